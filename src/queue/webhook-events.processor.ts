import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { AppConfig } from '../config/configuration.js';
import { DatabaseLifecycle } from '../database/database.lifecycle.js';
import { eventLabel, isKnownEvent, KNOWN_EVENTS, validateDelivery } from '../webhooks/webhook-payload.js';
import { WebhookEventsService } from '../webhooks/webhook-events.service.js';
import { EVENT_HANDLERS, EventHandler, PermanentFailure, RetryLaterError } from './event-handler.js';
import { JobMetricOutcome, ProcessingMetrics } from './processing.metrics.js';
import { ProcessEventJobData, WEBHOOKS_QUEUE } from './queue.constants.js';

const jobDataSchema = z.object({
  eventId: z.uuid(),
  event: z.string().min(1),
  requestId: z.string().optional(),
  deferrals: z.number().int().min(0).optional(),
});

export type JobOutcome = 'processed' | 'ignored' | 'skipped';

/** Deferrals (RetryLaterError) do not spend JOB_ATTEMPTS; this bounds them on their own. */
export const MAX_DEFERRALS = 10;
/** A Retry-After longer than this is capped (the sweeper treats long-idle 'processing' rows as stuck). */
export const MAX_DEFER_MS = 5 * 60_000;

/**
 * The one worker on the webhooks queue: claims the inbox row, dispatches on its event type and
 * records the outcome on the row. Handlers must be idempotent: a job may run again after a crash.
 *
 * Failures: PermanentFailure (and an invalid payload) dead-letters at once (BullMQ
 * UnrecoverableError, no further attempts); RetryLaterError delays the job by its Retry-After
 * without spending an attempt; any other error (timeouts, 5xx, database errors) is retried with
 * exponential backoff until JOB_ATTEMPTS are spent, then the row ends 'failed' with last_error.
 *
 * The worker is created with autorun off and started once PostgreSQL is connected and migrated:
 * jobs taken before that would only burn attempts on "database not ready".
 */
@Processor(WEBHOOKS_QUEUE, { autorun: false })
export class WebhookEventsProcessor extends WorkerHost implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WebhookEventsProcessor.name);
  private readonly handlers = new Map<string, EventHandler>();
  private stopped = false;

  constructor(
    private readonly inbox: WebhookEventsService,
    private readonly config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseLifecycle,
    private readonly metrics: ProcessingMetrics,
    @Inject(EVENT_HANDLERS) handlers: EventHandler[],
  ) {
    super();
    for (const h of handlers) this.handlers.set(h.event, h);
  }

  onModuleInit(): void {
    const missing = KNOWN_EVENTS.filter((e) => !this.handlers.has(e));
    if (missing.length > 0) throw new Error(`No handler registered for event type(s): ${missing.join(', ')}`);
    const queue = this.config.get('queue', { infer: true });
    this.worker.concurrency = queue.concurrency;
    // Lock and stalled-check timings come from config, which the @Processor decorator cannot read.
    // The worker has not run yet (autorun off); its lock manager copied the timings at construction,
    // so it is rebuilt with the new ones.
    Object.assign(this.worker.opts, {
      lockDuration: queue.lockDurationMs,
      lockRenewTime: queue.lockDurationMs / 2,
      stalledInterval: queue.stalledIntervalMs,
    });
    (this.worker as unknown as { createLockManager(): void }).createLockManager();
  }

  onApplicationBootstrap(): void {
    void this.startWhenDatabaseReady();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  private async startWhenDatabaseReady(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.database.whenReady(2000);
        break;
      } catch {
        // Still connecting (DatabaseLifecycle retries and logs); look again.
      }
    }
    if (this.stopped || this.worker.closing) return;
    this.worker.run().catch((err: Error) => this.logger.error(`worker stopped: ${err.message}`));
  }

  async process(job: Job<ProcessEventJobData & { deferrals?: number }>, token?: string): Promise<JobOutcome> {
    const started = performance.now();
    const label = eventLabel(typeof job.data?.event === 'string' ? job.data.event : undefined);
    let outcome: JobMetricOutcome | undefined;
    try {
      const result = await this.run(job, token);
      if (result !== 'skipped') outcome = result;
      return result;
    } catch (err) {
      const deferred = err instanceof DelayedError || (err as Error).name === 'DelayedError';
      const unrecoverable = err instanceof UnrecoverableError || (err as Error).name === 'UnrecoverableError';
      outcome = deferred || (!unrecoverable && hasAttemptsLeft(job)) ? 'retried' : 'failed';
      throw err;
    } finally {
      this.metrics.recordRun(label, outcome, (performance.now() - started) / 1000);
    }
  }

  private async run(job: Job<ProcessEventJobData & { deferrals?: number }>, token?: string): Promise<JobOutcome> {
    const data = jobDataSchema.safeParse(job.data);
    if (!data.success) throw new UnrecoverableError(`invalid job data: ${data.error.issues[0]?.message}`);
    const { eventId, requestId } = data.data;
    const deferrals = data.data.deferrals ?? 0;

    // A database error here is transient: the job is retried, and the row stays as it was.
    const row = await this.inbox.markProcessing(eventId);
    if (!row) return 'skipped'; // already processed, ignored or failed, or gone

    try {
      const delivery = validateDelivery(row.payload);
      if (!delivery.ok) throw new PermanentFailure(`invalid payload: ${delivery.message}`);
      const { event, sessionId, payload } = delivery.value;
      if (!isKnownEvent(event) || !this.handlers.has(event)) {
        await this.inbox.markProcessed(eventId, 'ignored');
        return 'ignored';
      }
      await this.handlers.get(event)!.handle({ eventId, event, sessionId, payload, requestId });
      await this.inbox.markProcessed(eventId);
      return 'processed';
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      const attempts = job.opts.attempts ?? 1;
      const permanent = err instanceof PermanentFailure;

      if (err instanceof RetryLaterError && token && deferrals < MAX_DEFERRALS) {
        const delayMs = Math.min(Math.max(err.retryAfterMs, 1), MAX_DEFER_MS);
        this.logger.warn(`event ${eventId} (${row.event}) deferred by ${delayMs} ms: ${message}`);
        await this.inbox.recordAttemptError(eventId, message).catch(() => undefined);
        await job.updateData({ ...job.data, deferrals: deferrals + 1 });
        await job.moveToDelayed(Date.now() + delayMs, token);
        throw new DelayedError();
      }

      if (permanent || !hasAttemptsLeft(job)) {
        this.logger.warn(`event ${eventId} (${row.event}) failed for good: ${message}`);
        // If this write fails too (PostgreSQL down), the row stays 'processing' and the sweeper
        // puts it back through processing once it has been idle for SWEEP_STUCK_AFTER_MS.
        await this.inbox.markFailed(eventId, message);
        if (permanent) throw new UnrecoverableError(message);
        throw err;
      }
      this.logger.warn(`event ${eventId} (${row.event}) attempt ${job.attemptsMade + 1}/${attempts} failed, will retry: ${message}`);
      await this.inbox.recordAttemptError(eventId, message).catch(() => undefined);
      throw err;
    }
  }
}

/** Whether BullMQ will run this job again if the current attempt fails. */
function hasAttemptsLeft(job: Job): boolean {
  return job.attemptsMade + 1 < (job.opts.attempts ?? 1);
}
