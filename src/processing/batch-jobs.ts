import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Job, UnrecoverableError } from 'bullmq';
import { errorText } from '../common/storable.js';
import { AppConfig } from '../config/configuration.js';
import { eventLabel } from '../events/event-definition.js';
import { runWithLogContext } from '../logging/log-context.js';
import {
  ATTR,
  contextOf,
  inSpan,
  linkTo,
  markActiveFailed,
  SPAN,
  type Span,
  SpanKind,
  traceparentOf,
  tracingOn,
} from '../tracing/spans.js';
import { EventJob, ProcessBatchJobData } from '../queue/queue.constants.js';
import { WebhookQueue } from '../queue/webhook-queue.js';
import { EventRunner } from './event-runner.js';
import { decideFailure } from './failure-policy.js';
import { AttemptOutcome, batchJobDataSchema, EventJobData } from './job-data.js';
import { JobMetricOutcome, ProcessingMetrics } from './processing.metrics.js';

/** What a batch job returns (kept by BullMQ as the job's return value). */
export type BatchOutcome = Record<AttemptOutcome | 'handedOff', number>;

/**
 * Batch jobs: the first attempt of each event of one ingest INSERT, so that a burst costs the
 * queue one job per batch rather than one per event. An event whose attempt fails leaves the batch
 * for a job of its own under its row id, added before the batch completes: one to retry after the
 * first backoff with the attempts left, one delayed by its Retry-After, or, for a dead letter (the
 * row already 'failed'), one that only fails, so the queue dashboard shows every dead letter. If
 * those jobs cannot be added, the batch job fails and is retried; its finished events are then skipped.
 */
@Injectable()
export class BatchJobs {
  private readonly queueConfig: AppConfig['queue'];

  constructor(
    private readonly runner: EventRunner,
    private readonly queue: WebhookQueue,
    private readonly metrics: ProcessingMetrics,
    config: ConfigService<AppConfig, true>,
  ) {
    this.queueConfig = config.get('queue', { infer: true });
  }

  async process(job: Job<ProcessBatchJobData>): Promise<BatchOutcome> {
    const parsed = batchJobDataSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid batch job data: ${parsed.error.issues[0]?.message}`);
    const followUps: EventJob[] = [];
    const events = parsed.data.events;
    const outcomes = await tracedBatch(job, events, (batchSpan) =>
      Promise.all(
        events.map((data) =>
          this.runner.limit(() =>
            runWithLogContext({ requestId: data.requestId, eventId: data.eventId, jobId: job.id }, () =>
              tracedEvent(data, job, batchSpan, () => this.attempt(data, job.id!, followUps)),
            ),
          ),
        ),
      ).then(async (outcomes) => {
        await this.queue.enqueueEvents(followUps);
        return outcomes;
      }),
    );
    const summary: BatchOutcome = { processed: 0, ignored: 0, skipped: 0, handedOff: followUps.length };
    for (const o of outcomes) if (o !== 'handed-off') summary[o]++;
    return summary;
  }

  private async attempt(data: EventJobData, batchJobId: string, followUps: EventJob[]): Promise<AttemptOutcome | 'handed-off'> {
    const started = performance.now();
    let outcome: JobMetricOutcome | undefined;
    try {
      const result = await this.runner.attempt(data.eventId, batchJobId, data.requestId);
      if (result !== 'skipped') outcome = result;
      return result;
    } catch (error) {
      const err = error as Error;
      const { attempts, backoffMs } = this.queueConfig;
      const decision = decideFailure(err, { attemptsLeft: attempts > 1, deferrals: data.deferrals ?? 0, canDefer: true });
      // Throws for a dead letter if PostgreSQL is down: the batch job is retried, and this event with it.
      markActiveFailed(err);
      await this.runner.recordFailure(data, decision, err, `attempt 1/${attempts} failed, will retry in a job of its own`);
      // A batch only carries never-reopened rows, so the event's own job id is its row id. Its job
      // continues the trace under this failed attempt.
      const traceparent = traceparentOf() ?? data.traceparent;
      const own = (jobData: EventJob['data'], opts: EventJob['opts']) =>
        followUps.push({ jobId: data.eventId, data: traceparent ? { ...jobData, traceparent } : jobData, opts });
      switch (decision.kind) {
        case 'defer':
          own({ ...data, deferrals: (data.deferrals ?? 0) + 1 }, { delay: decision.delayMs, attempts });
          outcome = 'retried';
          break;
        case 'dead-letter':
          own({ ...data, deadLetter: errorText(err) }, { attempts: 1 });
          outcome = 'failed';
          break;
        case 'retry':
          // Its own job continues the exponential schedule: backoffMs now, then 2x, 4x, ...
          own(data, { delay: backoffMs, attempts: attempts - 1, backoff: { type: 'exponential', delay: 2 * backoffMs } });
          outcome = 'retried';
          break;
      }
      return 'handed-off';
    } finally {
      this.metrics.recordRun(eventLabel(data.event), outcome, (performance.now() - started) / 1000);
    }
  }
}

/**
 * A batch job's `job.process` span starts a trace of its own (its events come from many deliveries)
 * and links each event's delivery trace; tracing off, `run` runs as it is.
 */
function tracedBatch<T>(job: Job<ProcessBatchJobData>, events: EventJobData[], run: (span?: Span) => Promise<T>): Promise<T> {
  if (!tracingOn()) return run(undefined);
  const links = events.flatMap((e) => linkTo(e.traceparent) ?? []);
  const attributes = {
    [ATTR.jobId]: job.id ?? '',
    [ATTR.jobName]: job.name,
    [ATTR.attempt]: job.attemptsMade + 1,
    [ATTR.batchSize]: events.length,
  };
  return inSpan(SPAN.job, attributes, run, { parent: contextOf(undefined), links, kind: SpanKind.CONSUMER });
}

/** One event of a batch: an `event.process` span in the event's own delivery trace, linked to the batch job's span. */
function tracedEvent<T>(data: EventJobData, job: Job, batchSpan: Span | undefined, run: () => Promise<T>): Promise<T> {
  if (!batchSpan) return run();
  const attributes = { [ATTR.eventId]: data.eventId, [ATTR.eventType]: data.event, [ATTR.jobId]: job.id ?? '', [ATTR.attempt]: 1 };
  return inSpan(SPAN.event, attributes, run, { parent: contextOf(data.traceparent), links: [{ context: batchSpan.spanContext() }] });
}
