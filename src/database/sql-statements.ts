import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import pg, { type Pool, type QueryResult, type QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig, pgConnection } from '../config/configuration.js';
import { pgPoolOf } from './pg-pool.adapter.js';

/**
 * How a statement commits. `durable` (default): the answer comes once the commit is on disk.
 * `async`: without waiting for the WAL flush, for the worker's bookkeeping (claims, outcomes,
 * idempotent handler writes), whose loss in a PostgreSQL crash the stale-row sweeper redoes; WAL
 * order keeps a later commit from surviving an earlier one.
 */
export type Commit = 'durable' | 'async';

// The async-commit pool serves the worker's batched statements: a few connections do.
const ASYNC_POOL_MAX = 6;

/**
 * Runs the hot statements (the inbox INSERT, the worker's claims and outcomes, the feedback upsert)
 * as named statements: each connection parses and plans one once and then only binds and executes
 * it. Measured on the bench: ~25 % less PostgreSQL CPU per 10-row INSERT, and less of the service's
 * own than DataSource.query's wrapper. Durable statements run on TypeORM's pool; async ones on a
 * pool of their own whose sessions have `synchronous_commit=off` (DATABASE_ASYNC_WORKER_COMMITS;
 * measured: +37-46 % requests/s in the burst bench when every commit was async).
 *
 * Those sessions also have `enable_seqscan=off`. A named statement's plan is made once and kept
 * (PostgreSQL's generic plan, until the table's statistics change): made while a new inbox held a
 * few rows, the claims' and outcomes' plans scanned the whole table and kept scanning it as it grew
 * until autovacuum first analysed it, a minute or two later (the soak's first minute: 1,800 buffers
 * read per outcome, PostgreSQL at 86-92 % of a core). Every statement on that pool looks rows up by
 * a key, so an index is always the right plan.
 *
 * Unnamed (parsed every time) when DATABASE_PREPARED_STATEMENTS=false, with DATABASE_POOL_MODE=
 * transaction (a pooler hands each statement to any server connection; PgBouncer before 1.21 has no
 * prepared-statement support) and in the embedded mode, whose connections share one PostgreSQL
 * session, so a name prepared by one would clash with another's. Planned with their values each
 * time, they need no `enable_seqscan=off`; the async-commit pool is off in those modes too (its
 * settings are session settings), so every commit is synchronous there.
 */
@Injectable()
export class SqlStatements implements OnApplicationShutdown {
  private readonly logger = new Logger(SqlStatements.name);
  private readonly named: boolean;
  private readonly database: AppConfig['database'];
  private asyncPool?: Pool;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    config: ConfigService<AppConfig, true>,
  ) {
    this.database = config.get('database', { infer: true });
    this.named = this.database.preparedStatements;
  }

  /**
   * `name` must be unique per statement text across the process. `null` runs the statement unnamed,
   * planned with its values at every run: for a lookup by a list of keys on the main pool, whose
   * kept plan could be a scan of the whole table (see enable_seqscan above).
   */
  async query<R extends QueryResultRow = Record<string, unknown>>(
    name: string | null,
    text: string,
    values: unknown[],
    commit: Commit = 'durable',
  ): Promise<QueryResult<R>> {
    if (!this.dataSource.isInitialized) throw new Error('database connection is not established');
    const pool = commit === 'async' && this.database.asyncWorkerCommits ? this.asyncCommitPool() : pgPoolOf(this.dataSource);
    return pool.query<R>(this.named && name !== null ? { name, text, values } : { text, values });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.asyncPool?.end().catch(() => undefined);
  }

  private asyncCommitPool(): Pool {
    if (!this.asyncPool) {
      this.asyncPool = new pg.Pool({
        ...pgConnection(this.database),
        max: ASYNC_POOL_MAX,
        connectionTimeoutMillis: 5000,
        options: '-c synchronous_commit=off -c enable_seqscan=off',
      });
      // An idle connection that PostgreSQL drops (a restart, a failover) is reported here, and the
      // pool replaces it. Without a listener, Node treats the 'error' event as uncaught: the process dies.
      this.asyncPool.on('error', (err) => this.logger.warn(`async-commit pool: idle connection lost: ${err.message}`));
    }
    return this.asyncPool;
  }
}
