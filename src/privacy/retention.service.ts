import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { AuditLog, SYSTEM_ACTOR } from '../audit/audit-log.service.js';
import { AppConfig, RETENTION_KINDS, RetentionKind } from '../config/configuration.js';
import { DatabaseLifecycle } from '../database/database.lifecycle.js';
import { withAdvisoryLock } from '../database/migration-lock.js';
import { PersonalDataRegistry } from './personal-data.registry.js';
import { PrivacyMetrics } from './privacy.metrics.js';
import { RetentionProgress } from './retention-progress.entity.js';

/** Records per statement, and statements per kind and pass: a pass is bounded, the next goes on. */
const BATCH = 1000;
const MAX_BATCHES = 50;
const DAY_MS = 86_400_000;
/** Any constant works; one pass at a time across every process (beside the job scheduler's one job per period). */
const RETENTION_LOCK_ID = 727_274_002;
const LAG_REFRESH_MS = 60_000;

export type RetentionCounts = Partial<Record<RetentionKind, number>>;

/**
 * Retention: each kind of personal data with a setting above 0 is expired once it is older than that
 * many days, by its holder, in bounded batches, oldest first. `retention_progress` keeps, per kind, up
 * to when everything due is expired, so a pass only reads what became due since (and goes on where a
 * bounded pass stopped). The pass runs as a job that the queue's job scheduler adds once per
 * RETENTION_INTERVAL_MINUTES, whatever the number of worker processes (RetentionScheduler); each pass
 * is audited with its counts, and `privacy_retention_lag_seconds` says how far behind it is.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RetentionService.name);
  private readonly days: Record<RetentionKind, number>;
  private readonly poolMode: AppConfig['database']['poolMode'];
  private lagTimer?: NodeJS.Timeout;

  constructor(
    private readonly registry: PersonalDataRegistry,
    private readonly audit: AuditLog,
    private readonly metrics: PrivacyMetrics,
    private readonly database: DatabaseLifecycle,
    @InjectRepository(RetentionProgress) private readonly progress: Repository<RetentionProgress>,
    @InjectDataSource() private readonly dataSource: DataSource,
    config: ConfigService<AppConfig, true>,
  ) {
    this.days = config.get('privacy', { infer: true }).retentionDays;
    this.poolMode = config.get('database', { infer: true }).poolMode;
  }

  /** Kinds with a retention setting. */
  get enabled(): RetentionKind[] {
    return RETENTION_KINDS.filter((kind) => this.days[kind] > 0);
  }

  onApplicationBootstrap(): void {
    if (this.enabled.length === 0) return;
    this.lagTimer = setInterval(() => {
      if (this.database.isReady) this.refreshLag().catch(() => undefined);
    }, LAG_REFRESH_MS);
    this.lagTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.lagTimer);
  }

  /** One pass; how many records of each kind it expired (nothing when another pass holds the lock). */
  async run(now = new Date()): Promise<RetentionCounts> {
    try {
      const counts = await withAdvisoryLock(this.dataSource, this.poolMode, RETENTION_LOCK_ID, 'try', async () => {
        const counts: RetentionCounts = {};
        for (const kind of this.enabled) counts[kind] = await this.expire(kind, new Date(now.getTime() - this.days[kind] * DAY_MS));
        await this.audit.record({ actor: SYSTEM_ACTOR, action: 'retention', counts });
        this.metrics.recordPass('completed');
        await this.refreshLag(now);
        return counts;
      });
      return counts ?? {};
    } catch (err) {
      this.metrics.recordPass('failed');
      this.logger.error(`retention pass failed: ${(err as Error).message}`);
      throw err;
    }
  }

  /** Expires `kind` up to `until`, from where the last pass stopped; records how far it got. */
  private async expire(kind: RetentionKind, until: Date): Promise<number> {
    const holder = this.registry.forKind(kind);
    let from = (await this.progress.findOneBy({ kind }))?.doneUntil;
    if (from && from >= until) return 0;
    let expired = 0;
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const result = await holder.expire(kind, { from, until }, BATCH);
      expired += result.expired;
      this.metrics.recordExpired(kind, result.expired);
      from = result.reached ?? until;
      if (!result.reached) break;
    }
    await this.progress.upsert({ kind, doneUntil: from, updatedAt: new Date() }, ['kind']);
    if (expired > 0) this.logger.log(`retention expired ${expired} ${kind}`);
    return expired;
  }

  /** privacy_retention_lag_seconds from the database, so that every worker reports it whoever ran the pass. */
  private async refreshLag(now = new Date()): Promise<void> {
    const rows = await this.progress.find();
    for (const kind of this.enabled) {
      const due = now.getTime() - this.days[kind] * DAY_MS;
      // Nothing expired yet: everything ever stored is behind.
      const done = rows.find((r) => r.kind === kind)?.doneUntil.getTime() ?? 0;
      this.metrics.setLag(kind, (due - done) / 1000);
    }
  }
}
