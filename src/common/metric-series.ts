import type { Counter, Histogram } from 'prom-client';

/** Every combination of the given label values. */
export function labelCombinations<K extends string>(values: Record<K, readonly string[]>): Array<Record<K, string>> {
  return (Object.entries(values) as Array<[K, readonly string[]]>).reduce<Array<Record<K, string>>>(
    (combos, [label, options]) => combos.flatMap((combo) => options.map((option) => ({ ...combo, [label]: option }))),
    [{} as Record<K, string>],
  );
}

/**
 * Creates every known series of a metric at zero, so a restarted process exports them from its
 * first scrape: otherwise panels show "No data" and `increase()` alerts miss the first events,
 * until each series happens to be touched.
 */
export function initSeries<K extends string>(metric: Counter<K> | Histogram<K>, values: Record<K, readonly string[]>): void {
  for (const labels of labelCombinations(values)) {
    if ('zero' in metric) metric.zero(labels);
    else metric.inc(labels as never, 0);
  }
}
