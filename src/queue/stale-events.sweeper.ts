import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/configuration.js';
import { DatabaseLifecycle } from '../database/database.lifecycle.js';
import { RequeueCandidate, WebhookEventsService } from '../webhooks/webhook-events.service.js';
import { ProcessingMetrics } from './processing.metrics.js';
import { LIVE_JOB_STATES, WebhookQueueService } from './webhook-queue.service.js';

const BATCH = 500;
/** Retention deletes at most PRUNE_BATCHES x PRUNE_BATCH rows per sweep, in short statements. */
const PRUNE_BATCH = 1000;
const PRUNE_BATCHES = 10;

/**
 * Finds inbox rows that no job will ever process and enqueues them again (worker role only).
 * Every SWEEP_INTERVAL_MS:
 * - rows in 'received' for over SWEEP_STALE_AFTER_MS (a crash between commit and enqueue, Redis
 *   lost its data, an admin replay whose enqueue failed): left alone while the batch job that
 *   carries them will still run (a backlog); else enqueued under their own job id, which is a
 *   no-op while that job lives; if that job already finished, the row gets a fresh job id;
 * - rows in 'processing' idle for over SWEEP_STUCK_AFTER_MS (the job's final failure could not be
 *   recorded because PostgreSQL was down, or BullMQ failed a job that stalled too often): put back
 *   to 'received' and enqueued with a fresh job id.
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
    private readonly inbox: WebhookEventsService,
    private readonly queue: WebhookQueueService,
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

  /** One pass; returns how many rows were enqueued again, and how many were deleted for retention. */
  async sweep(): Promise<{ stale: number; stuck: number; pruned: number }> {
    const stuck = await this.inbox.reopenStuckProcessing(this.opts.stuckAfterMs, BATCH);
    await this.enqueue(stuck);
    if (stuck.length > 0) this.logger.warn(`re-enqueued ${stuck.length} event(s) stuck in 'processing'`);
    this.metrics.recordRequeued('stuck_processing', stuck.length);

    const stale = await this.inbox.findStaleReceived(this.opts.staleAfterMs, BATCH);
    const toEnqueue: RequeueCandidate[] = [];
    // A row whose batch job will still run is only waiting its turn.
    const carried = (row: RequeueCandidate) => (row.jobSuffix ? undefined : row.batchJobId);
    const liveBatches = await this.queue.liveJobIds(stale.flatMap((row) => carried(row) ?? []));
    for (const row of stale) {
      if (liveBatches.has(carried(row) ?? '')) continue;
      const jobId = row.jobSuffix ? `${row.id}-${row.jobSuffix}` : row.id;
      const state = await this.queue.rawQueue.getJobState(jobId);
      if (LIVE_JOB_STATES.has(state)) continue; // its job is still coming
      if (state === 'unknown') {
        toEnqueue.push(row);
        continue;
      }
      // Its job finished (completed or failed) yet the row says 'received': a new job id is needed.
      const touched = await this.inbox.touchStaleReceived(row.id, this.opts.staleAfterMs);
      if (touched) toEnqueue.push(touched);
    }
    await this.enqueue(toEnqueue);
    if (toEnqueue.length > 0) this.logger.warn(`re-enqueued ${toEnqueue.length} event(s) left in 'received'`);
    this.metrics.recordRequeued('stale_received', toEnqueue.length);
    return { stale: toEnqueue.length, stuck: stuck.length, pruned: await this.prune() };
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

  private async enqueue(rows: RequeueCandidate[]): Promise<void> {
    // Rows sharing a suffix (one UPDATE's now()) go in one call; the original ids in another.
    const bySuffix = new Map<string | undefined, RequeueCandidate[]>();
    for (const r of rows) {
      const group = bySuffix.get(r.jobSuffix);
      if (group) group.push(r);
      else bySuffix.set(r.jobSuffix, [r]);
    }
    for (const [suffix, group] of bySuffix) {
      await this.queue.enqueue(
        group.map((r) => ({ eventId: r.id, event: r.event, requestId: r.requestId })),
        suffix,
      );
    }
  }
}
