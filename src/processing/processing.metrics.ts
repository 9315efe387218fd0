import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider } from '@willsoto/nestjs-prometheus';
import { Counter, Histogram } from 'prom-client';
import { initSeries } from '../common/metric-series.js';
import { eventLabels } from '../events/event-definition.js';
import { makeExemplarHistogramProvider } from '../metrics/exemplar-histogram.provider.js';
import { observeWithTrace } from '../metrics/exemplars.js';

export const WEBHOOK_JOBS = 'webhook_jobs_total';
export const PROCESSING_DURATION = 'webhook_processing_duration_seconds';
export const EVENTS_REQUEUED = 'webhook_events_requeued_total';
export const EVENTS_PRUNED = 'webhook_events_pruned_total';

/** `retried`: a transient failure with attempts left (or a deferral); `failed`: dead-lettered. */
export const JOB_OUTCOMES = ['processed', 'retried', 'failed', 'ignored'] as const;
export type JobMetricOutcome = (typeof JOB_OUTCOMES)[number];
const REQUEUE_REASONS = ['stale_received', 'stuck_processing'] as const;

export const processingMetricProviders = [
  makeCounterProvider({
    name: WEBHOOK_JOBS,
    help: 'Event processing attempts (in batch jobs or jobs of their own), by event type and outcome',
    labelNames: ['event', 'outcome'],
  }),
  // Exemplars: the trace of an attempt in each bucket, when tracing is on (metrics/exemplars.ts).
  makeExemplarHistogramProvider({
    name: PROCESSING_DURATION,
    help: 'Time spent on one event processing attempt, by event type',
    labelNames: ['event'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
  makeCounterProvider({
    name: EVENTS_REQUEUED,
    help: 'Inbox rows the sweeper enqueued again, by reason',
    labelNames: ['reason'],
  }),
  makeCounterProvider({
    name: EVENTS_PRUNED,
    help: 'Finished inbox rows deleted after INBOX_RETENTION_DAYS',
  }),
];

@Injectable()
export class ProcessingMetrics {
  constructor(
    @InjectMetric(WEBHOOK_JOBS) private readonly jobs: Counter<'event' | 'outcome'>,
    @InjectMetric(PROCESSING_DURATION) private readonly duration: Histogram<'event'>,
    @InjectMetric(EVENTS_REQUEUED) private readonly requeued: Counter<'reason'>,
    @InjectMetric(EVENTS_PRUNED) private readonly pruned: Counter,
  ) {
    // Jobs carry known and unknown event types; 'unknown' never reaches a worker.
    const events = eventLabels().filter((e) => e !== 'unknown');
    initSeries(jobs, { event: events, outcome: JOB_OUTCOMES });
    initSeries(duration, { event: events });
    initSeries(requeued, { reason: REQUEUE_REASONS });
  }

  recordRun(event: string, outcome: JobMetricOutcome | undefined, seconds: number): void {
    if (outcome) this.jobs.inc({ event, outcome });
    observeWithTrace(this.duration, { event }, seconds);
  }

  /** An event ended 'failed' outside a processing attempt (the sweeper gave up on it). */
  recordDeadLetter(event: string): void {
    this.jobs.inc({ event, outcome: 'failed' });
  }

  recordRequeued(reason: (typeof REQUEUE_REASONS)[number], count: number): void {
    if (count > 0) this.requeued.inc({ reason }, count);
  }

  recordPruned(count: number): void {
    if (count > 0) this.pruned.inc(count);
  }
}
