import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { exemplarHistogram, observeWithTrace, traceExemplar } from './exemplars.js';
import { openMetrics, prefersOpenMetrics } from './openmetrics.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const BUCKETS = [0.01, 0.05, 0.1];

/** Runs fn as if inside a span of the given trace (what the SDK's instrumentation sets up). */
function inSpan<T>(fn: () => T, traceFlags = TraceFlags.SAMPLED, traceId = TRACE_ID): T {
  const span = trace.wrapSpanContext({ traceId, spanId: '00f067aa0ba902b7', traceFlags });
  return context.with(trace.setSpan(ROOT_CONTEXT, span), fn);
}

/** The same metrics, before (a plain histogram) and after (an exemplar histogram observed in spans). */
function registries() {
  const before = new Registry();
  const after = new Registry();
  const config = { name: 'latency_seconds', help: 'Latency', labelNames: ['status'] as const, buckets: BUCKETS };
  const plain = new Histogram({ ...config, registers: [before] });
  const traced = exemplarHistogram(config, after);
  for (const registers of [[before], [after]]) {
    new Counter({ name: 'received_total', help: 'Received', labelNames: ['status'], registers }).inc({ status: 'accepted' }, 2);
    new Gauge({ name: 'depth', help: 'Depth', registers }).set(3);
  }
  for (const [status, value] of [
    ['accepted', 0.03],
    ['accepted', 0.2],
    ['error', 0.004],
  ] as const) {
    plain.observe({ status }, value);
    inSpan(() => observeWithTrace(traced, { status }, value));
  }
  return { before, after, traced };
}

describe('content negotiation', () => {
  it.each([
    // Prometheus 2.x, and 3.x with its default scrape protocols
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      true,
    ],
    [
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1',
      true,
    ],
    ['application/openmetrics-text; version=0.0.1', true],
    ['application/openmetrics-text', true],
    [undefined, false],
    ['', false],
    ['*/*', false],
    ['text/plain', false],
    ['text/plain;version=0.0.4', false],
    ['text/plain;version=0.0.4,application/openmetrics-text;version=1.0.0;q=0.5', false],
    ['application/openmetrics-text;version=2.0.0', false],
    ['application/openmetrics-text;q=0', false],
  ])('%s -> OpenMetrics: %s', (accept, expected) => {
    expect(prefersOpenMetrics(accept)).toBe(expected);
  });
});

describe('exemplars', () => {
  it('are nothing without a context manager (no SDK registered): no span is ever active', () => {
    expect(inSpan(() => traceExemplar())).toBeUndefined();
  });

  describe('with a context manager', () => {
    const manager = new AsyncLocalStorageContextManager();
    beforeAll(() => context.setGlobalContextManager(manager.enable()));
    afterAll(() => {
      context.disable();
      manager.disable();
    });

    it('name the active sampled span’s trace, and nothing outside a span, in an unsampled one or an invalid one', () => {
      expect(traceExemplar()).toBeUndefined();
      expect(inSpan(() => traceExemplar())).toEqual({ trace_id: TRACE_ID });
      expect(inSpan(() => traceExemplar(), TraceFlags.NONE)).toBeUndefined();
      expect(inSpan(() => traceExemplar(), TraceFlags.SAMPLED, '0'.repeat(32))).toBeUndefined();
      // OpenMetrics caps an exemplar's label set at 128 characters.
      expect(
        Object.entries(inSpan(() => traceExemplar())!)
          .flat()
          .join('').length,
      ).toBeLessThanOrEqual(128);
    });

    it('leave the default text format byte for byte as before, even after an OpenMetrics scrape', async () => {
      const { before, after } = registries();
      const text = await before.metrics();
      expect(await after.metrics()).toBe(text);
      expect(text).not.toContain(TRACE_ID);
      await openMetrics(after);
      // prom-client's OpenMetrics writer renames counters in place; ours must not.
      expect(await after.metrics()).toBe(text);
      expect(text).toMatch(/^received_total\{status="accepted"\} 2$/m);
    });

    it('are written in OpenMetrics on the buckets the traced observations landed in', async () => {
      const { after } = registries();
      const om = await openMetrics(after);
      expect(om.endsWith('\n# EOF\n')).toBe(true);
      expect(om).toMatch(/^# TYPE received counter\nreceived_total\{status="accepted"\} 2$/m);
      const exemplar = (line: string) =>
        new RegExp(`^${line.replace(/[{}+.]/g, '\\$&')} # \\{trace_id="${TRACE_ID}"\\} ([0-9.]+) (\\d+\\.?\\d*)$`, 'm');
      expect(om).toMatch(exemplar('latency_seconds_bucket{le="0.05",status="accepted"} 1'));
      expect(om).toMatch(exemplar('latency_seconds_bucket{le="+Inf",status="accepted"} 2'));
      expect(om).toMatch(exemplar('latency_seconds_bucket{le="0.01",status="error"} 1'));
      const [, value, timestamp] = exemplar('latency_seconds_bucket{le="0.05",status="accepted"} 1').exec(om)!;
      expect(Number(value)).toBe(0.03);
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
      // Buckets nothing traced landed in carry none.
      expect(om).toMatch(/^latency_seconds_bucket\{le="0.1",status="accepted"\} 1$/m);
    });

    it('are left out for an observation outside a span', async () => {
      const registry = new Registry();
      const h = exemplarHistogram({ name: 'untraced_seconds', help: 'x', buckets: BUCKETS }, registry);
      observeWithTrace(h, {}, 0.02);
      expect(await openMetrics(registry)).not.toContain(' # {');
    });
  });
});
