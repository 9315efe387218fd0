import { isSpanContextValid, trace, TraceFlags } from '@opentelemetry/api';
import { Histogram, type HistogramConfiguration, type LabelValues, register, type Registry } from 'prom-client';

/**
 * The exemplar label an observation carries: the trace it belongs to (40 of OpenMetrics' 128
 * characters). Grafana's Prometheus datasource maps it to the trace datasource (exemplarTraceIdDestinations).
 */
export const TRACE_ID_LABEL = 'trace_id';
export type TraceExemplar = Record<typeof TRACE_ID_LABEL, string>;

/**
 * The active span's trace id, if a span is active and sampled (an unsampled trace is never exported,
 * so an exemplar pointing at it would lead nowhere). With no OpenTelemetry SDK registered the API's
 * no-op context has no span: one lookup, no allocation.
 */
export function traceExemplar(): TraceExemplar | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const context = span.spanContext();
  if (!isSpanContextValid(context) || (context.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  return { [TRACE_ID_LABEL]: context.traceId };
}

/** Observes a value, with the active trace as the exemplar of the bucket it lands in. */
export function observeWithTrace<K extends string>(histogram: Histogram<K>, labels: LabelValues<K>, value: number): void {
  const exemplar = traceExemplar();
  // prom-client types exemplar labels as the metric's own label names; trace_id is not one of them.
  if (exemplar) histogram.observe({ labels, value, exemplarLabels: exemplar as LabelValues<K> });
  else histogram.observe({ labels, value });
}

/**
 * A histogram that keeps the last exemplar per bucket, registered on the default registry. prom-client
 * refuses `enableExemplars` on a metric whose registry is typed as the text format (0.0.4), although its
 * text writer simply leaves exemplars out; so the histogram is created without a registry and registered
 * afterwards. /metrics then writes the same 0.0.4 text as before, and exemplars only in OpenMetrics
 * (openmetrics.ts). Observe it with observeWithTrace: an exemplar histogram takes one object argument.
 */
export function exemplarHistogram<K extends string>(config: HistogramConfiguration<K>, registry: Registry = register): Histogram<K> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Histogram<K>;
  const histogram = new Histogram<K>({ ...config, enableExemplars: true, registers: [] });
  registry.registerMetric(histogram);
  return histogram;
}
