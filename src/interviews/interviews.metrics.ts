import { Injectable } from '@nestjs/common';
import { InjectMetric, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { Histogram } from 'prom-client';
import { initSeries } from '../common/metric-series.js';

export const TRANSCRIPT_DOWNLOAD_DURATION = 'transcript_download_duration_seconds';

/** `ok`, `refused` (a permanent failure: policy, 4xx, not JSON, too large) or `error` (transient). */
const DOWNLOAD_OUTCOMES = ['ok', 'refused', 'error'] as const;
export type DownloadOutcome = (typeof DOWNLOAD_OUTCOMES)[number];

export const interviewMetricProviders = [
  makeHistogramProvider({
    name: TRANSCRIPT_DOWNLOAD_DURATION,
    help: 'Time to download an interview transcript, by outcome',
    labelNames: ['outcome'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
];

@Injectable()
export class InterviewMetrics {
  constructor(@InjectMetric(TRANSCRIPT_DOWNLOAD_DURATION) private readonly download: Histogram<'outcome'>) {
    initSeries(download, { outcome: DOWNLOAD_OUTCOMES });
  }

  recordDownload(outcome: DownloadOutcome, seconds: number): void {
    this.download.observe({ outcome }, seconds);
  }
}
