import type { FactoryProvider } from '@nestjs/common';
import { getToken } from '@willsoto/nestjs-prometheus';
import type { Histogram, HistogramConfiguration } from 'prom-client';
import { exemplarHistogram } from './exemplars.js';

/** makeHistogramProvider's counterpart for exemplar histograms (injected with @InjectMetric as usual). */
export function makeExemplarHistogramProvider(config: HistogramConfiguration<string>): FactoryProvider<Histogram<string>> {
  return { provide: getToken(config.name), useFactory: () => exemplarHistogram(config) };
}
