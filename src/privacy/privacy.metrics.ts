import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import { Counter, Gauge } from 'prom-client';
import { initSeries } from '../common/metric-series.js';
import { RETENTION_KINDS, RetentionKind } from '../config/configuration.js';

export const RETENTION_EXPIRED = 'privacy_retention_expired_total';
export const RETENTION_PASSES = 'privacy_retention_passes_total';
export const RETENTION_LAG = 'privacy_retention_lag_seconds';

const PASS_OUTCOMES = ['completed', 'failed'] as const;

export const privacyMetricProviders = [
  makeCounterProvider({
    name: RETENTION_EXPIRED,
    help: 'Records expired by retention, by kind of data (transcripts removed, rows deleted, inbox payloads dropped)',
    labelNames: ['kind'],
  }),
  makeCounterProvider({
    name: RETENTION_PASSES,
    help: 'Retention passes run by this process, by outcome',
    labelNames: ['outcome'],
  }),
  makeGaugeProvider({
    name: RETENTION_LAG,
    help: 'How far retention is behind, by kind of data: the age of the oldest record it should have expired and has not (0: up to date), from the database',
    labelNames: ['kind'],
  }),
];

@Injectable()
export class PrivacyMetrics {
  constructor(
    @InjectMetric(RETENTION_EXPIRED) private readonly expired: Counter<'kind'>,
    @InjectMetric(RETENTION_PASSES) private readonly passes: Counter<'outcome'>,
    @InjectMetric(RETENTION_LAG) private readonly lag: Gauge<'kind'>,
  ) {
    initSeries(expired, { kind: RETENTION_KINDS });
    initSeries(passes, { outcome: PASS_OUTCOMES });
  }

  recordExpired(kind: RetentionKind, n: number): void {
    if (n > 0) this.expired.inc({ kind }, n);
  }

  recordPass(outcome: (typeof PASS_OUTCOMES)[number]): void {
    this.passes.inc({ outcome });
  }

  setLag(kind: RetentionKind, seconds: number): void {
    this.lag.set({ kind }, Math.max(0, seconds));
  }
}
