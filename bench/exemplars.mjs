// What an exemplar costs on the hot path: one histogram observation as the ingest and processing
// metrics make it, before exemplars (prom-client's plain histogram) and now (src/metrics/exemplars.ts),
// with no OpenTelemetry SDK (tracing off), with a context manager but outside any span, and inside a
// sampled span. Built code: `npm run build && node bench/exemplars.mjs` (ROUNDS, OPS to change the size).
// The context manager is registered half-way, as an SDK would register it at boot: tracing off is
// measured first, with the API's no-op context.
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { Histogram, Registry } from 'prom-client';
import { exemplarHistogram, observeWithTrace } from '../dist/metrics/exemplars.js';

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const OPS = Number(process.env.OPS ?? 1_000_000);
const config = {
  name: 'webhook_ingest_duration_seconds',
  help: 'bench',
  labelNames: ['status'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
};
const plain = new Histogram({ ...config, registers: [new Registry()] });
const traced = exemplarHistogram(config, new Registry());
// Values spread over the buckets, as request latencies are.
const values = Array.from({ length: 1024 }, (_, i) => (i % 97) / 1000);

/**
 * Nanoseconds per call of each variant: the fastest of ROUNDS rounds of OPS calls (the round least
 * disturbed by other processes), the variants taking turns within each round so that the machine's
 * noise and the JIT's warm-up fall on all of them.
 */
function measure(variants) {
  const perOp = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  for (const fn of Object.values(variants)) for (let i = 0; i < OPS / 5; i++) fn(values[i & 1023]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(variants)) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < OPS; i++) fn(values[i & 1023]);
      perOp[name].push(Number(process.hrtime.bigint() - start) / OPS);
    }
  }
  return Object.fromEntries(Object.entries(perOp).map(([name, ns]) => [name, Math.min(...ns)]));
}

const before = (v) => plain.observe({ status: 'accepted' }, v);
const now = (v) => observeWithTrace(traced, { status: 'accepted' }, v);
const span = trace.wrapSpanContext({
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.SAMPLED,
});
const inSpan = trace.setSpan(ROOT_CONTEXT, span);

function report(title, results) {
  const base = results.before;
  console.log(title);
  for (const [name, ns] of Object.entries(results))
    console.log(
      `  ${name.padEnd(20)} ${ns.toFixed(1).padStart(7)} ns${name === 'before' ? '' : `  ${ns - base >= 0 ? '+' : ''}${(ns - base).toFixed(1)} ns`}`,
    );
}

console.log(`node ${process.version}, fastest of ${ROUNDS} rounds of ${OPS} observations, ns per observation`);
report('tracing off (no SDK: the API has no context manager)', measure({ before, now }));
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
report('tracing on (a context manager registered)', {
  ...measure({ before, 'now, no span': now }),
  ...context.with(inSpan, () => measure({ 'now, sampled span': now })),
});
