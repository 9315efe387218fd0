import {
  context,
  type Attributes,
  type Context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanContext,
  SpanStatusCode,
  trace,
  TraceFlags,
  isSpanContextValid,
  type TimeInput,
} from '@opentelemetry/api';

/**
 * The spans only this service knows (docs/operations.md, "Spans"), made through @opentelemetry/api.
 * Every helper here does nothing unless start-tracing.ts started the SDK: with tracing off the hot
 * path does not even ask the API for a no-op span.
 */
let on = false;

/** Called once the SDK is started (start-tracing.ts). */
export function markTracingOn(): void {
  on = true;
}

export function tracingOn(): boolean {
  return on;
}

export { SpanKind };
export type { Attributes, Context, Span };

/** Span names (low cardinality: the event type is an attribute). */
export const SPAN = {
  verifySignature: 'webhook.verify_signature',
  inboxWrite: 'inbox.write',
  enqueue: 'queue.enqueue',
  job: 'job.process',
  event: 'event.process',
  handle: 'event.handle',
  outcome: 'event.outcome',
  transcript: 'transcript.download',
  slack: 'slack.post',
} as const;

/** Attribute keys. None of them carries personal data: ids, types, counts, outcomes. */
export const ATTR = {
  eventId: 'event.id',
  eventType: 'event.type',
  sessionId: 'event.session_id',
  requestId: 'request.id',
  jobId: 'job.id',
  jobName: 'job.name',
  attempt: 'job.attempt',
  batchSize: 'batch.size',
  outcome: 'event.outcome',
  reason: 'queue.enqueue_reason',
  deadLetter: 'dead_letter',
} as const;

const tracer = () => trace.getTracer('interview-webhooks');

/**
 * Runs `fn` inside a new active span (child of `parent`, else of the active context): the span ends
 * when `fn` settles, as an error with the exception recorded when it throws. Without tracing, `fn`
 * runs as it is (its span argument undefined).
 */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span?: Span) => Promise<T>,
  options: { parent?: Context; links?: Link[]; kind?: SpanKind; isFailure?: (err: unknown) => boolean } = {},
): Promise<T> {
  if (!on) return fn(undefined);
  const parent = options.parent ?? context.active();
  return tracer().startActiveSpan(name, { attributes, links: options.links, kind: options.kind }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      if (options.isFailure?.(err) ?? true) markFailed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** A span that is not made active (sync work, or spans recorded after the fact with their times). */
export function startSpan(
  name: string,
  attributes: Attributes,
  options: { parent?: Context; links?: Link[]; kind?: SpanKind; startTime?: TimeInput } = {},
): Span | undefined {
  if (!on) return undefined;
  return tracer().startSpan(
    name,
    { attributes, links: options.links, kind: options.kind, startTime: options.startTime },
    options.parent ?? context.active(),
  );
}

/** Marks a span failed: status ERROR and the exception (its name and scrubbed message) recorded. */
export function markFailed(span: Span | undefined, err: unknown): void {
  if (!span) return;
  const error = err instanceof Error ? err : new Error(String(err));
  const message = scrubText(error.message);
  // No stack: it can quote the failing value. Name and message say what failed.
  span.recordException({ name: error.name, message });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** The active context, or a context under the span. */
export function activeContext(): Context {
  return context.active();
}

/** Runs `fn` with `ctx` active (as it is without one). */
export function withContext<T>(ctx: Context | undefined, fn: () => T): T {
  return ctx ? context.with(ctx, fn) : fn();
}

export function contextWith(span: Span | undefined, parent: Context = context.active()): Context {
  return span ? trace.setSpan(parent, span) : parent;
}

/** The span active now (undefined without tracing): what log lines and exemplars point at. */
export function activeSpanContext(): SpanContext | undefined {
  if (!on) return undefined;
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && isSpanContextValid(sc) ? sc : undefined;
}

// W3C trace context (https://www.w3.org/TR/trace-context/#traceparent-header), version 00: what a
// job carries so that the worker continues the delivery's trace, whatever OTEL_PROPAGATORS says.
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The traceparent of a span (or of the active span): undefined without tracing or a valid span. */
export function traceparentOf(span?: Span): string | undefined {
  if (!on) return undefined;
  const sc = (span ?? trace.getActiveSpan())?.spanContext();
  if (!sc || !isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & TraceFlags.SAMPLED) !== 0 ? '01' : '00'}`;
}

/** The span context a traceparent names (remote), or undefined when it is missing or malformed. */
export function spanContextOf(traceparent: string | undefined): SpanContext | undefined {
  const m = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!m) return undefined;
  const sc: SpanContext = { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16) & TraceFlags.SAMPLED, isRemote: true };
  return isSpanContextValid(sc) ? sc : undefined;
}

/** A context whose parent is the span a traceparent names; the root context without one. */
export function contextOf(traceparent: string | undefined): Context {
  const sc = spanContextOf(traceparent);
  return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/** The trace id of the span in `ctx` when sampled: what the inbox records (undefined otherwise). */
export function sampledTraceIdIn(ctx: Context | undefined): string | undefined {
  return ctx ? sampledTraceId(trace.getSpanContext(ctx)) : undefined;
}

/** Marks the active span failed (see markFailed). */
export function markActiveFailed(err: unknown): void {
  if (on) markFailed(trace.getActiveSpan(), err);
}

/** Sets attributes on the active span (nothing without tracing). */
export function annotateActive(attributes: Attributes): void {
  if (on) trace.getActiveSpan()?.setAttributes(attributes);
}

/** A link to the span a traceparent names (undefined when it names none). */
export function linkTo(traceparent: string | undefined): Link | undefined {
  const sc = spanContextOf(traceparent);
  return sc ? { context: sc } : undefined;
}

/** The trace id of a sampled span context, as the inbox records it (undefined otherwise). */
export function sampledTraceId(sc: SpanContext | undefined): string | undefined {
  return sc && (sc.traceFlags & TraceFlags.SAMPLED) !== 0 ? sc.traceId : undefined;
}

/**
 * A traceparent in the trace `traceId` (an inbox row's trace_id) for work that goes back through
 * processing (a replay, the sweeper): its parent id is derived from the event id, since the
 * delivery's own span ids are not stored, so trace views show it as a second root of the delivery's
 * trace.
 */
export function traceparentInTrace(traceId: string | undefined, eventId: string): string | undefined {
  if (!traceId || !/^[0-9a-f]{32}$/.test(traceId)) return undefined;
  const spanId = eventId.replace(/-/g, '').slice(-16).padStart(16, '0');
  return /^0+$/.test(spanId) ? undefined : `00-${traceId}-${spanId}-01`;
}

// Error text may quote a remote host's answer or a URL: no email addresses, no query strings.
const EMAIL = /[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}/gi;
const URL_QUERY = /(https?:\/\/[^\s?#"']+)[?#][^\s"']*/gi;

export function scrubText(text: string): string {
  return text.replace(URL_QUERY, '$1?[redacted]').replace(EMAIL, '[redacted]').slice(0, 500);
}
