import { Processor, WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Inject, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import pLimit, { LimitFunction } from 'p-limit';
import { z } from 'zod';
import { errorText } from '../common/storable.js';
import { AppConfig } from '../config/configuration.js';
import { DatabaseLifecycle } from '../database/database.lifecycle.js';
import { runWithLogContext } from '../logging/log-context.js';
import { eventLabel, isKnownEvent, KNOWN_EVENTS, validateDelivery } from '../webhooks/webhook-payload.js';
import { WebhookEventsService } from '../webhooks/webhook-events.service.js';
import { decideFailure, EVENT_HANDLERS, EventHandler, FailureDecision, isPermanent, PermanentFailure } from './event-handler.js';
import { JobMetricOutcome, ProcessingMetrics } from './processing.metrics.js';
import { BATCH_JOB_MAX_EVENTS, PROCESS_BATCH_JOB, ProcessBatchJobData, ProcessEventJobData, WEBHOOKS_QUEUE } from './queue.constants.js';
import { FollowUpJob, WebhookQueueService } from './webhook-queue.service.js';
import { drainWorker } from './worker-drain.js';

const jobDataSchema = z.object({
  eventId: z.uuid(),
  event: z.string().min(1),
  requestId: z.string().optional(),
  deferrals: z.number().int().min(0).optional(),
});
type JobData = z.infer<typeof jobDataSchema>;

/** Error text in a log line is cut shorter than on the row (it may quote a remote host's answer). */
const LOGGED_ERROR_CHARS = 500;

const batchDataSchema = z.object({ events: z.array(jobDataSchema).min(1).max(10 * BATCH_JOB_MAX_EVENTS) });

export type JobOutcome = 'processed' | 'ignored' | 'skipped';
/** What a batch job returns (kept by BullMQ as the job's return value). */
export type BatchOutcome = Record<JobOutcome | 'handedOff', number>;

/**
 * The one worker on the webhooks queue: claims the inbox row, dispatches on its event type and
 * records the outcome on the row. Handlers must be idempotent: a job may run again after a crash.
 * A job carries one event (PROCESS_EVENT_JOB) or the first attempts of a batch of them
 * (PROCESS_BATCH_JOB, see processBatch); at most WORKER_CONCURRENCY events run at once either way.
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
export class WebhookEventsProcessor extends WorkerHost implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(WebhookEventsProcessor.name);
  private readonly handlers = new Map<string, EventHandler>();
  private readonly queueConfig: AppConfig['queue'];
  private readonly shutdownTimeoutMs: number;
  /** Events in flight, across batch jobs and jobs of their own. */
  private readonly permits: LimitFunction;
  /** Jobs whose process() has not returned yet, and who waits for there to be none (shutdown). */
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly inbox: WebhookEventsService,
    private readonly queue: WebhookQueueService,
    private readonly database: DatabaseLifecycle,
    private readonly metrics: ProcessingMetrics,
    @Inject(EVENT_HANDLERS) handlers: EventHandler[],
    config: ConfigService<AppConfig, true>,
  ) {
    super();
    for (const h of handlers) this.handlers.set(h.event, h);
    this.queueConfig = config.get('queue', { infer: true });
    this.shutdownTimeoutMs = config.get('app', { infer: true }).shutdownTimeoutMs;
    this.permits = pLimit(this.queueConfig.concurrency);
  }

  onModuleInit(): void {
    const missing = KNOWN_EVENTS.filter((e) => !this.handlers.has(e));
    if (missing.length > 0) throw new Error(`No handler registered for event type(s): ${missing.join(', ')}`);
    const queue = this.queueConfig;
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

  /**
   * Before Nest closes the HTTP server and anything the jobs use (Nest runs every such hook before
   * any onApplicationShutdown, where @nestjs/bullmq closes the worker and TypeORM the pool): stop
   * taking jobs and let the events in progress finish within SHUTDOWN_TIMEOUT_MS.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.worker.isRunning()) await drainWorker(this.worker, () => this.whenIdle(), this.shutdownTimeoutMs, this.logger);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  private whenIdle(): Promise<void> {
    return this.running === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
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

  async process(job: Job<ProcessEventJobData> | Job<ProcessBatchJobData>, token?: string): Promise<JobOutcome | BatchOutcome> {
    this.running++;
    try {
      return await this.processJob(job, token);
    } finally {
      if (--this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async processJob(job: Job<ProcessEventJobData> | Job<ProcessBatchJobData>, token?: string): Promise<JobOutcome | BatchOutcome> {
    if (job.name === PROCESS_BATCH_JOB) return this.processBatch(job as Job<ProcessBatchJobData>);
    const data = job.data as Partial<ProcessEventJobData> | undefined;
    // A dead letter's stand-in only fails, on its first run (its batch counted it in
    // webhook_jobs_total); run again, it was retried from the queue dashboard, like any failed job.
    if (typeof data?.deadLetter === 'string' && job.attemptsMade === 0) throw new UnrecoverableError(data.deadLetter);
    return this.permits(() => this.processEvent(job as Job<ProcessEventJobData>, token));
  }

  /** A job of its own: BullMQ's attempts, backoff and delays apply to it. */
  private async processEvent(job: Job<ProcessEventJobData>, token?: string): Promise<JobOutcome> {
    const started = performance.now();
    const label = eventLabel(typeof job.data?.event === 'string' ? job.data.event : undefined);
    let outcome: JobMetricOutcome | undefined;
    try {
      const parsed = jobDataSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid job data: ${parsed.error.issues[0]?.message}`);
      const data = parsed.data;
      const result = await this.attempt(data.eventId, data.requestId, { reopenFailed: true }).catch((err: Error) =>
        this.onJobFailure(job, data, err, token),
      );
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

  /** Applies the failure policy to a job of its own; always throws what BullMQ should see. */
  private async onJobFailure(job: Job<ProcessEventJobData>, data: JobData, err: Error, token?: string): Promise<never> {
    const deferrals = data.deferrals ?? 0;
    const decision = decideFailure(err, { attemptsLeft: hasAttemptsLeft(job), deferrals, canDefer: token !== undefined });
    // A dead letter whose 'failed' cannot be written (PostgreSQL down) stays 'processing'; the
    // sweeper puts it back through processing once it has been idle for SWEEP_STUCK_AFTER_MS.
    await this.recordFailure(data, decision, err, `attempt ${job.attemptsMade + 1}/${job.opts.attempts ?? 1} failed, will retry`);
    switch (decision.kind) {
      case 'defer':
        await job.updateData({ ...job.data, deferrals: deferrals + 1 });
        await job.moveToDelayed(Date.now() + decision.delayMs, token);
        throw new DelayedError();
      case 'dead-letter':
        if (isPermanent(err)) throw new UnrecoverableError(errorText(err));
        throw err;
      case 'retry':
        throw err;
    }
  }

  /**
   * Logs a failed attempt and records it on the inbox row, whichever job ran it: a dead letter
   * ends 'failed' (throws if PostgreSQL is down), any other failure leaves its error in last_error.
   */
  private async recordFailure(data: JobData, decision: FailureDecision, err: Error, retryNote: string): Promise<void> {
    const what = `event ${data.eventId} (${data.event})`;
    const reason = errorText(err);
    if (decision.kind === 'dead-letter') {
      this.logger.warn(`${what} failed for good: ${errorText(err, LOGGED_ERROR_CHARS)}`);
      await this.inbox.markFailed(data.eventId, reason);
      return;
    }
    const note = decision.kind === 'defer' ? `deferred by ${decision.delayMs} ms` : retryNote;
    this.logger.warn(`${what} ${note}: ${errorText(err, LOGGED_ERROR_CHARS)}`);
    await this.inbox.recordAttemptError(data.eventId, reason).catch(() => undefined);
  }

  /**
   * A batch job: the first attempt of each of its events, WORKER_CONCURRENCY at a time across all
   * jobs. An event whose attempt fails leaves the batch for a job of its own, added before the batch
   * completes: one to retry after the first backoff with the attempts left, one delayed by its
   * Retry-After, or, for a dead letter (the row already 'failed'), one that only fails. If those
   * jobs cannot be added, the batch job fails and is retried; its finished events are then skipped.
   */
  private async processBatch(job: Job<ProcessBatchJobData>): Promise<BatchOutcome> {
    const parsed = batchDataSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid batch job data: ${parsed.error.issues[0]?.message}`);
    const followUps: FollowUpJob[] = [];
    const outcomes = await Promise.all(
      parsed.data.events.map((data) =>
        this.permits(() =>
          runWithLogContext({ requestId: data.requestId, eventId: data.eventId, jobId: job.id }, () => this.batchAttempt(data, followUps)),
        ),
      ),
    );
    await this.queue.enqueueFollowUps(followUps);
    const summary: BatchOutcome = { processed: 0, ignored: 0, skipped: 0, handedOff: followUps.length };
    for (const o of outcomes) if (o !== 'handed-off') summary[o]++;
    return summary;
  }

  private async batchAttempt(data: JobData, followUps: FollowUpJob[]): Promise<JobOutcome | 'handed-off'> {
    const started = performance.now();
    const label = eventLabel(data.event);
    let outcome: JobMetricOutcome | undefined;
    try {
      const result = await this.attempt(data.eventId, data.requestId);
      if (result !== 'skipped') outcome = result;
      return result;
    } catch (error) {
      const err = error as Error;
      const { attempts, backoffMs } = this.queueConfig;
      const decision = decideFailure(err, { attemptsLeft: attempts > 1, deferrals: data.deferrals ?? 0, canDefer: true });
      // Throws for a dead letter if PostgreSQL is down: the batch job is retried, and this event with it.
      await this.recordFailure(data, decision, err, `attempt 1/${attempts} failed, will retry in a job of its own`);
      switch (decision.kind) {
        case 'defer':
          followUps.push({ data: { ...data, deferrals: (data.deferrals ?? 0) + 1 }, opts: { delay: decision.delayMs, attempts } });
          outcome = 'retried';
          break;
        case 'dead-letter':
          followUps.push({ data: { ...data, deadLetter: errorText(err) }, opts: { attempts: 1 } });
          outcome = 'failed';
          break;
        case 'retry':
          // Its own job continues the exponential schedule: backoffMs now, then 2x, 4x, ...
          followUps.push({
            data,
            opts: { delay: backoffMs, attempts: attempts - 1, backoff: { type: 'exponential', delay: 2 * backoffMs } },
          });
          outcome = 'retried';
          break;
      }
      return 'handed-off';
    } finally {
      this.metrics.recordRun(label, outcome, (performance.now() - started) / 1000);
    }
  }

  /**
   * One attempt at one event: claims the inbox row, dispatches on its event type and records the
   * outcome. 'skipped' when the row is already final. Throws the handler's error (the row stays
   * 'processing'); the caller applies the failure policy.
   *
   * `reopenFailed` (jobs of their own): no automatic path runs such a job for a 'failed' or
   * 'ignored' row (but a worker killed between recording the outcome and BullMQ recording it, whose
   * stalled job then runs once more), so one that does was retried by an operator in the queue
   * dashboard. It counts as a replay: the row is reopened (attempts and last_error reset) and
   * processed again.
   */
  private async attempt(eventId: string, requestId?: string, opts: { reopenFailed?: boolean } = {}): Promise<JobOutcome> {
    // A database error here is transient: the job is retried, and the row stays as it was.
    let row = await this.inbox.markProcessing(eventId);
    if (!row && opts.reopenFailed) {
      const reopened = await this.inbox.reopen(eventId);
      if (reopened && 'reopened' in reopened) {
        this.logger.warn(`event ${eventId} (${reopened.reopened.event}) reopened: its job was retried from the queue dashboard`);
        row = await this.inbox.markProcessing(eventId);
      }
    }
    if (!row) return 'skipped'; // already processed (or reopened and taken by another job), or gone

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
  }
}

/** Whether BullMQ will run this job again if the current attempt fails. */
function hasAttemptsLeft(job: Job): boolean {
  return job.attemptsMade + 1 < (job.opts.attempts ?? 1);
}
