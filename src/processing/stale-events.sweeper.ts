import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/configuration.js';
import { DatabaseLifecycle } from '../database/database.lifecycle.js';
import { eventLabel } from '../events/event-definition.js';
import { jobIdOf, ownJobOf, QueuedRow } from '../inbox/job-ids.js';
import { InboxRecoveryRepository, Recovered } from '../inbox/recovery.repository.js';
import { WebhookQueue } from '../queue/webhook-queue.js';
import { ProcessingMetrics } from './processing.metrics.js';

const BATCH = 500;
/**
 * A row the sweeper has put back through processing this many times ends 'failed' the next time it
 * is found stuck: something about it keeps its outcome from being recorded, and only an operator
 * (the dead-letter desk) can tell what. Replaying it resets the count.
 */
export const MAX_RECOVERIES = 3;
/** Retention deletes at most PRUNE_BATCHES x PRUNE_BATCH rows per sweep, in short statements. */
const PRUNE_BATCH = 1000;
const PRUNE_BATCHES = 10;

/**
 * Finds inbox rows that no job will ever process and enqueues them again (worker role only).
 * Every SWEEP_INTERVAL_MS:
 * - rows in 'received' for over SWEEP_STALE_AFTER_MS (a crash between commit and enqueue, Redis
 *   lost its data, an admin replay whose enqueue failed): left alone while the job that carries
 *   them (their batch job, or their own) will still run (a backlog); else enqueued under a fresh
 *   job id;
 * - rows in 'processing' idle for over SWEEP_STUCK_AFTER_MS (the job's final failure could not be
 *   recorded because PostgreSQL was down, or BullMQ failed a job that stalled too often): put back
 *   to 'received' and enqueued with a fresh job id.
 * Either way a row is put back at most MAX_RECOVERIES times; after that it ends 'failed' with a
 * reason saying so (a dead letter, counted in webhook_jobs_total{outcome="failed"}), never cycling unseen.
 * Handlers are idempotent and notifications are claimed per session, so a row enqueued twice by
 * two sweepers racing is processed in effect once. Conditional updates keep such races rare.
 *
 * With INBOX_RETENTION_DAYS set, each pass also deletes rows that finished ('processed',
 * 'ignored') and were received more than that many days ago. A redelivery older than that is then
 * recorded and processed again: the handlers' upserts and the per-session notification claims keep
 * that from duplicating an interview, a feedback row or a Slack post.
 */
@Injectable()
export class StaleEventsSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(StaleEventsSweeper.name);
  private readonly opts: AppConfig['sweeper'];
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly inbox: InboxRecoveryRepository,
    private readonly queue: WebhookQueue,
    private readonly database: DatabaseLifecycle,
    private readonly metrics: ProcessingMetrics,
    config: ConfigService<AppConfig, true>,
  ) {
    this.opts = config.get('sweeper', { infer: true });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      if (this.running || !this.database.isReady) return;
      this.running = this.sweep()
        .then(() => undefined)
        .catch((err: Error) => this.logger.warn(`sweep failed: ${err.message}`))
        .finally(() => (this.running = undefined));
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass; returns how many rows were enqueued again, given up on, and deleted for retention. */
  async sweep(): Promise<{ stale: number; stuck: number; gaveUp: number; pruned: number }> {
    const stuck = await this.inbox.reopenStuckProcessing(this.opts.stuckAfterMs, BATCH, MAX_RECOVERIES);
    await this.queue.enqueueEvents(stuck.requeued.map(ownJobOf));
    if (stuck.requeued.length > 0) this.logger.warn(`re-enqueued ${stuck.requeued.length} event(s) stuck in 'processing'`);
    this.metrics.recordRequeued('stuck_processing', stuck.requeued.length);

    const candidates = await this.inbox.findStaleReceived(this.opts.staleAfterMs, BATCH);
    // A row whose job will still run (its own, or the batch job of a first attempt) is only waiting its turn.
    const carriers = (row: QueuedRow) => (row.batchJobId && !row.jobSuffix ? [jobIdOf(row), row.batchJobId] : [jobIdOf(row)]);
    const live = await this.queue.liveJobIds(candidates.flatMap(carriers));
    const stale = await this.inbox.requeueStaleReceived(
      candidates.filter((row) => !carriers(row).some((id) => live.has(id))).map((row) => row.id),
      this.opts.staleAfterMs,
      MAX_RECOVERIES,
    );
    await this.queue.enqueueEvents(stale.requeued.map(ownJobOf));
    if (stale.requeued.length > 0) this.logger.warn(`re-enqueued ${stale.requeued.length} event(s) left in 'received'`);
    this.metrics.recordRequeued('stale_received', stale.requeued.length);

    const gaveUp = this.recordGaveUp(stuck, stale);
    return { stale: stale.requeued.length, stuck: stuck.requeued.length, gaveUp, pruned: await this.prune() };
  }

  private recordGaveUp(...recovered: Recovered[]): number {
    const rows = recovered.flatMap((r) => r.gaveUp);
    for (const row of rows) this.metrics.recordDeadLetter(eventLabel(row.event));
    if (rows.length > 0) {
      this.logger.warn(
        `gave up on ${rows.length} event(s) put back through processing ${MAX_RECOVERIES} times without an outcome; they are 'failed' (dead letters): ${rows.map((r) => r.id).join(', ')}`,
      );
    }
    return rows.length;
  }

  private async prune(): Promise<number> {
    if (this.opts.retentionDays <= 0) return 0;
    let pruned = 0;
    for (let i = 0; i < PRUNE_BATCHES; i++) {
      const deleted = await this.inbox.pruneFinished(this.opts.retentionDays, PRUNE_BATCH);
      pruned += deleted;
      this.metrics.recordPruned(deleted);
      if (deleted < PRUNE_BATCH) break;
    }
    return pruned;
  }
}
