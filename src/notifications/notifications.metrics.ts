import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { Counter, Histogram } from 'prom-client';
import { initSeries } from '../common/metric-series.js';

export const SLACK_NOTIFICATIONS = 'slack_notifications_total';
export const SLACK_REQUEST_DURATION = 'slack_request_duration_seconds';

/** `sent`, `skipped` (no SLACK_WEBHOOK_URL), `failed` (one failed attempt), `rate_limited` (a 429). */
const SLACK_OUTCOMES = ['sent', 'skipped', 'failed', 'rate_limited'] as const;
export type SlackOutcome = (typeof SLACK_OUTCOMES)[number];

export const notificationMetricProviders = [
  makeCounterProvider({
    name: SLACK_NOTIFICATIONS,
    help: 'Slack notification attempts, by outcome',
    labelNames: ['outcome'],
  }),
  makeHistogramProvider({
    name: SLACK_REQUEST_DURATION,
    help: 'Time for one POST to the Slack webhook, by outcome (skipped notifications make no request)',
    labelNames: ['outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
];

@Injectable()
export class NotificationMetrics {
  constructor(
    @InjectMetric(SLACK_NOTIFICATIONS) private readonly counter: Counter<'outcome'>,
    @InjectMetric(SLACK_REQUEST_DURATION) private readonly duration: Histogram<'outcome'>,
  ) {
    initSeries(counter, { outcome: SLACK_OUTCOMES });
    // 'skipped' makes no request.
    initSeries(duration, { outcome: SLACK_OUTCOMES.filter((o) => o !== 'skipped') });
  }

  /** `seconds`: how long the POST took, when one was made. */
  record(outcome: SlackOutcome, seconds?: number): void {
    this.counter.inc({ outcome });
    if (seconds !== undefined) this.duration.observe({ outcome }, seconds);
  }
}
