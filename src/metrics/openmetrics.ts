import { type Metric, openMetricsContentType, type OpenMetricsContentType, register, Registry } from 'prom-client';

/** Versions of OpenMetrics the writer's output satisfies (Prometheus asks for 1.0.0, then 0.0.1). */
const OPENMETRICS_VERSIONS = new Set(['1.0.0', '0.0.1']);
/** Versions of the text format our names and labels satisfy (1.0.0 only adds UTF-8 names). */
const TEXT_VERSIONS = new Set(['0.0.4', '1.0.0']);

interface MediaRange {
  type: string;
  version?: string;
  q: number;
}

function mediaRanges(accept: string): MediaRange[] {
  return accept.split(',').map((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const range: MediaRange = { type, q: 1 };
    for (const param of params) {
      const [key, value = ''] = param.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
      if (key === 'q') range.q = Number.isFinite(Number(value)) ? Number(value) : 0;
      else if (key === 'version') range.version = value;
    }
    return range;
  });
}

/**
 * Whether the scraper's Accept header prefers OpenMetrics to the text format: Prometheus sends
 * `application/openmetrics-text;version=1.0.0,...,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`. No header,
 * `*\/*` or a plain `text/plain` keep the text format, as before. Parameters other than version and q
 * (charset, escaping) are satisfied by what we write: legacy metric names, UTF-8.
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  let openMetrics = 0;
  let text = 0;
  for (const r of mediaRanges(accept)) {
    if (r.type === 'application/openmetrics-text' && (r.version === undefined || OPENMETRICS_VERSIONS.has(r.version)))
      openMetrics = Math.max(openMetrics, r.q);
    else if (r.type === 'text/plain' && (r.version === undefined || TEXT_VERSIONS.has(r.version))) text = Math.max(text, r.q);
  }
  return openMetrics > 0 && openMetrics >= text;
}

/**
 * The registry's metrics in OpenMetrics 1.0.0, exemplars included, without touching the registry. An
 * OpenMetrics-typed prom-client registry renames each counter it writes (drops `_total` from
 * `metric.name`, in place), which would corrupt the default registry's next text scrape; so counters
 * are written through a view (an object inheriting from the counter) whose name alone changes.
 * The registry's default labels are not carried over (the service sets none).
 */
export async function openMetrics(registry: Registry = register): Promise<string> {
  const writer = new Registry<OpenMetricsContentType>();
  writer.setContentType(openMetricsContentType);
  for (const metric of registry.getMetricsAsArray()) {
    // At run time `type` is the exposition's word ('counter'), whatever the typings' enum says.
    const isCounter = (metric as { type: unknown }).type === 'counter';
    writer.registerMetric((isCounter ? Object.create(metric) : metric) as Metric);
  }
  return writer.metrics();
}
