import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { setTimeout as sleep } from 'node:timers/promises';
import { withTimeout } from '../common/with-timeout.js';
import { AppConfig } from '../config/configuration.js';
import { withMigrationLock } from './migration-lock.js';

const RETRY_DELAY_MS = 2000;

/**
 * Connects to PostgreSQL and applies pending migrations, retrying until it succeeds.
 * Several instances may boot at once: an advisory lock lets one migrate while the others wait.
 */
@Injectable()
export class DatabaseLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseLifecycle.name);
  /** Aborted at shutdown: ends the retry loop, and its wait between attempts at once. */
  private readonly stopping = new AbortController();
  private resolveReady!: () => void;
  private readonly readyPromise = new Promise<void>((resolve) => (this.resolveReady = resolve));
  private connecting?: Promise<void>;

  private readonly database: AppConfig['database'];
  private readonly postgresQueue: boolean;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    config: ConfigService<AppConfig, true>,
  ) {
    this.database = config.get('database', { infer: true });
    this.postgresQueue = config.get('queue', { infer: true })?.backend === 'postgres';
  }

  onApplicationBootstrap(): void {
    if (!this.database.embedded) {
      this.logger.log(`PostgreSQL TLS: ${this.database.tls.summary}`);
      if (this.database.direct) this.logger.log(`PostgreSQL TLS (DATABASE_DIRECT_URL): ${this.database.direct.summary}`);
      if (this.database.poolMode === 'transaction') {
        const wakeUp = this.database.direct ? 'LISTEN on DATABASE_DIRECT_URL' : 'polling every 0.2 s (no DATABASE_DIRECT_URL)';
        this.logger.log(
          `PostgreSQL pool mode: transaction (no prepared statements, every commit synchronous, advisory locks in transactions${this.postgresQueue ? `; queue workers: ${wakeUp}` : ''})`,
        );
      }
    }
    this.connecting = this.connectLoop();
  }

  get isReady(): boolean {
    return this.dataSource.isInitialized;
  }

  /** Resolves once connected and migrated; rejects after timeoutMs. */
  async whenReady(timeoutMs: number): Promise<void> {
    await withTimeout(this.readyPromise, timeoutMs, () => new Error(`PostgreSQL not ready after ${timeoutMs} ms`));
  }

  private async connectLoop(): Promise<void> {
    for (let attempt = 1; !this.stopping.signal.aborted; attempt++) {
      try {
        if (!this.dataSource.isInitialized) await this.dataSource.initialize();
        await this.migrate();
        this.logger.log('PostgreSQL connected, migrations applied');
        this.resolveReady();
        return;
      } catch (err) {
        if (attempt === 1 || attempt % 15 === 0) {
          this.logger.warn(`PostgreSQL not available yet (attempt ${attempt}): ${(err as Error).message}`);
        }
        // Not holding the process open; a shutdown cuts the wait short (an awaited timer that
        // never fires would leave the shutdown unsettled: the process exits 13, not 0).
        await sleep(RETRY_DELAY_MS, undefined, { ref: false, signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  private async migrate(): Promise<void> {
    const applied = await withMigrationLock(this.dataSource, this.database.poolMode, () =>
      this.dataSource.runMigrations({ transaction: 'each' }),
    );
    for (const m of applied) this.logger.log(`Applied migration ${m.name}`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    // TypeOrmModule closes the pool itself; only the retry loop is ours to stop.
    await this.connecting?.catch(() => undefined);
  }
}
