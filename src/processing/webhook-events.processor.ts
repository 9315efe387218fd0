import { Processor, WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { errorText } from '../common/storable.js';
import { AppConfig } from '../config/configuration.js';
import { DatabaseLifecycle } from '../database/database.lifecycle.js';
import { eventLabel } from '../events/event-definition.js';
import { isPermanent } from '../events/event-handler.js';
import { runWithLogContext } from '../logging/log-context.js';
import { ATTR, contextOf, inSpan, SPAN, SpanKind, tracingOn } from '../tracing/spans.js';
import { RetentionCounts, RetentionService } from '../privacy/retention.service.js';
import { PROCESS_BATCH_JOB, ProcessBatchJobData, ProcessEventJobData, RETENTION_JOB, WEBHOOKS_QUEUE } from '../queue/queue.constants.js';
import { QueueWorker } from '../queue/queue-worker.js';
import { drainWorker } from '../queue/worker-drain.js';
import { BatchJobs, BatchOutcome } from './batch-jobs.js';
import { EventRunner } from './event-runner.js';
import { decideFailure } from './failure-policy.js';
import { AttemptOutcome, EventJobData, eventJobDataSchema } from './job-data.js';
import { JobMetricOutcome, ProcessingMetrics } from './processing.metrics.js';

type AnyJob = Job<ProcessEventJobData> | Job<ProcessBatchJobData>;

/**
 * The one worker on the webhooks queue. A job carries one event (PROCESS_EVENT_JOB, id = the row's
 * job id) or the first attempts of a batch of them (PROCESS_BATCH_JOB, see BatchJobs); EventRunner
 * makes each attempt. Every line logged while a job runs carries its request id, event id and job id.
 *
 * Failures of a job of its own (failure-policy.ts): a permanent one (PermanentFailure, an invalid
 * payload, data PostgreSQL refuses) dead-letters at once (BullMQ UnrecoverableError); a
 * RetryLaterError delays the job by its Retry-After without spending an attempt; any other error is
 * retried with exponential backoff until JOB_ATTEMPTS are spent, then the row ends 'failed'.
 *
 * The worker is created with autorun off and started once PostgreSQL is connected and migrated
 * (jobs taken before would only burn attempts on "database not ready"); at shutdown it drains
 * before anything it uses closes.
 */
@Processor(WEBHOOKS_QUEUE, { autorun: false })
export class WebhookEventsProcessor
  extends WorkerHost
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(WebhookEventsProcessor.name);
  private readonly shutdownTimeoutMs: number;
  /** Jobs whose process() has not returned yet, and who waits for there to be none (shutdown). */
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly runner: EventRunner,
    private readonly batches: BatchJobs,
    private readonly database: DatabaseLifecycle,
    private readonly metrics: ProcessingMetrics,
    private readonly queueWorker: QueueWorker,
    private readonly retention: RetentionService,
    config: ConfigService<AppConfig, true>,
  ) {
    super();
    this.shutdownTimeoutMs = config.get('app', { infer: true }).shutdownTimeoutMs;
  }

  onModuleInit(): void {
    this.queueWorker.register(this.worker);
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

  async process(job: AnyJob, token?: string): Promise<AttemptOutcome | BatchOutcome | RetentionCounts> {
    this.running++;
    try {
      // A retention pass (privacy/), added by the queue's job scheduler: no event, no log context.
      if (job.name === RETENTION_JOB) return await this.retention.run();
      const data = (job.data ?? {}) as Partial<ProcessEventJobData>;
      const context = {
        requestId: typeof data.requestId === 'string' ? data.requestId : undefined,
        eventId: typeof data.eventId === 'string' ? data.eventId : undefined,
        jobId: job.id,
      };
      return await runWithLogContext(context, () =>
        job.name === PROCESS_BATCH_JOB
          ? this.batches.process(job as Job<ProcessBatchJobData>)
          : tracedJob(job as Job<ProcessEventJobData>, () => this.processOwnJob(job as Job<ProcessEventJobData>, token)),
      );
    } finally {
      if (--this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /** A job of its own: BullMQ's attempts, backoff and delays apply to it. */
  private async processOwnJob(job: Job<ProcessEventJobData>, token?: string): Promise<AttemptOutcome> {
    // A dead letter's stand-in only fails (its batch counted it in webhook_jobs_total). A retry of it
    // from the queue dashboard is a replay under a job of its own (src/dashboard/).
    if (typeof job.data?.deadLetter === 'string') throw new UnrecoverableError(job.data.deadLetter);
    return this.runner.limit(async () => {
      const started = performance.now();
      let outcome: JobMetricOutcome | undefined;
      try {
        const parsed = eventJobDataSchema.safeParse(job.data);
        if (!parsed.success) throw new UnrecoverableError(`invalid job data: ${parsed.error.issues[0]?.message}`);
        const data = parsed.data;
        const result = await this.runner
          .attempt(data.eventId, job.id!, data.requestId)
          .catch((err: Error) => this.onFailure(job, data, err, token));
        if (result !== 'skipped') outcome = result;
        return result;
      } catch (err) {
        const deferred = err instanceof DelayedError || (err as Error).name === 'DelayedError';
        const unrecoverable = err instanceof UnrecoverableError || (err as Error).name === 'UnrecoverableError';
        outcome = deferred || (!unrecoverable && hasAttemptsLeft(job)) ? 'retried' : 'failed';
        throw err;
      } finally {
        this.metrics.recordRun(
          eventLabel(typeof job.data?.event === 'string' ? job.data.event : undefined),
          outcome,
          (performance.now() - started) / 1000,
        );
      }
    });
  }

  /** Applies the failure policy to a job of its own; always throws what BullMQ should see. */
  private async onFailure(job: Job<ProcessEventJobData>, data: EventJobData, err: Error, token?: string): Promise<never> {
    const deferrals = data.deferrals ?? 0;
    const decision = decideFailure(err, { attemptsLeft: hasAttemptsLeft(job), deferrals, canDefer: token !== undefined });
    // A dead letter whose 'failed' cannot be written (PostgreSQL down) stays 'processing'; the
    // sweeper puts it back through processing once it has been idle for SWEEP_STUCK_AFTER_MS.
    await this.runner.recordFailure(data, decision, err, `attempt ${job.attemptsMade + 1}/${job.opts.attempts ?? 1} failed, will retry`);
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
}

/** Whether BullMQ will run this job again if the current attempt fails. */
function hasAttemptsLeft(job: Job): boolean {
  return job.attemptsMade + 1 < (job.opts.attempts ?? 1);
}

/**
 * A job of its own runs in a `job.process` span in the trace its data names (the delivery's, through
 * its enqueue span or the attempt that handed it on): every attempt and retry of the event is a span
 * of that trace. A deferral (DelayedError) is not a failure.
 */
function tracedJob<T>(job: Job<ProcessEventJobData>, run: () => Promise<T>): Promise<T> {
  if (!tracingOn()) return run();
  const data = (job.data ?? {}) as Partial<ProcessEventJobData>;
  const attributes = {
    [ATTR.jobId]: job.id ?? '',
    [ATTR.jobName]: job.name,
    [ATTR.attempt]: job.attemptsMade + 1,
    ...(typeof data.eventId === 'string' ? { [ATTR.eventId]: data.eventId } : {}),
    ...(typeof data.event === 'string' ? { [ATTR.eventType]: data.event } : {}),
    ...(typeof data.deadLetter === 'string' ? { [ATTR.deadLetter]: true } : {}),
  };
  const parent = contextOf(typeof data.traceparent === 'string' ? data.traceparent : undefined);
  return inSpan(SPAN.job, attributes, run, {
    parent,
    kind: SpanKind.CONSUMER,
    isFailure: (err) => !(err instanceof DelayedError || (err as Error).name === 'DelayedError'),
  });
}
