import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider } from '@willsoto/nestjs-prometheus';
import { Counter, Histogram } from 'prom-client';
import { initSeries } from '../common/metric-series.js';
import { eventLabels } from '../events/event-definition.js';
import { makeExemplarHistogramProvider } from '../metrics/exemplar-histogram.provider.js';
import { observeWithTrace } from '../metrics/exemplars.js';

export const WEBHOOKS_RECEIVED = 'webhooks_received_total';
export const INGEST_DURATION = 'webhook_ingest_duration_seconds';

export const RECEIVED_STATUSES = [
  'accepted',
  'duplicate',
  'erased',
  'invalid_signature',
  'invalid_payload',
  'too_large',
  'unavailable',
  'error',
] as const;
export type ReceivedStatus = (typeof RECEIVED_STATUSES)[number];

export const webhookMetricProviders = [
  makeCounterProvider({
    name: WEBHOOKS_RECEIVED,
    help: 'Webhook deliveries received, by event type and outcome of the request',
    labelNames: ['event', 'status'],
  }),
  // Exemplars: the trace of a delivery in each bucket, when tracing is on (metrics/exemplars.ts).
  makeExemplarHistogramProvider({
    name: INGEST_DURATION,
    help: 'Time from receiving a webhook delivery to answering it',
    labelNames: ['status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  }),
];

/** Per-request labels the controller leaves on the request for the onResponse hook. */
export interface IngestMarks {
  webhookEvent?: string;
  ingestStatus?: ReceivedStatus;
}

export function statusFromResponse(code: number, marked?: ReceivedStatus): ReceivedStatus {
  if (marked) return marked;
  if (code === 401 || code === 403) return 'invalid_signature';
  if (code === 413) return 'too_large';
  if (code === 503) return 'unavailable';
  if (code >= 400 && code < 500) return 'invalid_payload';
  return code < 400 ? 'accepted' : 'error';
}

@Injectable()
export class WebhookMetrics {
  constructor(
    @InjectMetric(WEBHOOKS_RECEIVED) private readonly received: Counter<'event' | 'status'>,
    @InjectMetric(INGEST_DURATION) private readonly duration: Histogram<'status'>,
  ) {
    initSeries(received, { event: eventLabels(), status: RECEIVED_STATUSES });
    initSeries(duration, { status: RECEIVED_STATUSES });
  }

  record(event: string, status: ReceivedStatus, seconds: number): void {
    this.received.inc({ event, status });
    observeWithTrace(this.duration, { status }, seconds);
  }
}
