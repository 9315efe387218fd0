import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/configuration.js';
import { DatabaseLifecycle } from '../database/database.lifecycle.js';
import { eventLabel } from '../events/event-definition.js';
import { carriersOf, requeueJobsOf } from '../inbox/job-ids.js';
import { InboxRecoveryRepository, Recovered, StaleCursor } from '../inbox/recovery.repository.js';
import { WebhookQueue } from '../queue/webhook-queue.js';
import { ProcessingMetrics } from './processing.metrics.js';

/** Rows looked at per state and pass; a pass goes on where the last one stopped (see `cursors`). */
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
 * Every SWEEP_INTERVAL_MS it looks at:
 * - rows in 'received' for over SWEEP_STALE_AFTER_MS (a crash between commit and enqueue, Redis
 *   lost its data, an admin replay whose enqueue failed);
 * - rows in 'processing' idle for over SWEEP_STUCK_AFTER_MS (the job's final failure could not be
 *   recorded because PostgreSQL was down, BullMQ failed a job that stalled too often, a crash undid
 *   an outcome committed asynchronously).
 * Age alone never reopens a row: the sweeper asks the queue about the job that carries it (its
 * batch job, its own job, or the one it was reopened under: src/inbox/job-ids.ts), and leaves it
 * alone while that job is waiting, delayed or active (a backlog, a retry's backoff, however long).
 * Only a row whose job is gone is reopened under a fresh job id, which from then on is the only
 * job that may claim it, so a row never runs in two jobs. Each such reopen is a real loss, counted
 * in `recoveries`: after MAX_RECOVERIES the row ends 'failed' with a reason saying so (a dead letter,
 * counted in webhook_jobs_total{outcome="failed"}), never cycling unseen.
 *
 * Each pass looks at up to BATCH rows per state, oldest first, and the next pass goes on after the
 * last of them (back to the oldest once a pass reaches the end), so rows whose jobs are alive cannot
 * hide lost ones behind them however many there are. Dead letters are never read (UNFINISHED_SQL).
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
  /** Per state, the last row the previous pass looked at (undefined: start from the oldest). */
  private readonly cursors: Partial<Record<'received' | 'processing', StaleCursor>> = {};

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
    const stuck = await this.recover('processing', this.opts.stuckAfterMs);
    const stale = await this.recover('received', this.opts.staleAfterMs);
    const gaveUp = this.recordGaveUp(stuck, stale);
    return { stale: stale.requeued.length, stuck: stuck.requeued.length, gaveUp, pruned: await this.prune() };
  }

  /** Reopens the rows in `status`, idle for longer than `idleMs`, whose carrying job is gone. */
  private async recover(status: 'received' | 'processing', idleMs: number): Promise<Recovered> {
    const candidates = await this.inbox.findStale(status, idleMs, BATCH, this.cursors[status]);
    this.cursors[status] = candidates.length < BATCH ? undefined : candidates[candidates.length - 1].cursor;
    const live = await this.queue.liveJobIds(candidates.flatMap(carriersOf));
    const lost = candidates.filter((row) => !carriersOf(row).some((id) => live.has(id)));
    const recovered = await this.inbox.reopenStale(
      lost.map((row) => row.id),
      status,
      idleMs,
      MAX_RECOVERIES,
    );
    const { jobs, done } = requeueJobsOf(recovered.requeued, 'sweep');
    await this.queue.enqueueEvents(jobs).then(
      () => done(),
      (err: unknown) => {
        done(err);
        throw err;
      },
    );
    const n = recovered.requeued.length;
    if (n > 0) this.logger.warn(`re-enqueued ${n} event(s) left in '${status}' whose job is gone`);
    this.metrics.recordRequeued(status === 'processing' ? 'stuck_processing' : 'stale_received', n);
    return recovered;
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
