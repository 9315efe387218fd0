import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider } from '@willsoto/nestjs-prometheus';
import { Counter } from 'prom-client';

export const SLACK_NOTIFICATIONS = 'slack_notifications_total';

/** `sent`, `skipped` (no SLACK_WEBHOOK_URL), `failed` (one failed attempt), `rate_limited` (a 429). */
export type SlackOutcome = 'sent' | 'skipped' | 'failed' | 'rate_limited';

export const notificationMetricProviders = [
  makeCounterProvider({
    name: SLACK_NOTIFICATIONS,
    help: 'Slack notification attempts, by outcome',
    labelNames: ['outcome'],
  }),
];

@Injectable()
export class NotificationMetrics {
  constructor(@InjectMetric(SLACK_NOTIFICATIONS) private readonly counter: Counter<'outcome'>) {}

  record(outcome: SlackOutcome): void {
    this.counter.inc({ outcome });
  }
}
