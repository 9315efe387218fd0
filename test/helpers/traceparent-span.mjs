// Preloaded into the service (NODE_OPTIONS=--import) by tests that need an active span without an
// OpenTelemetry SDK: registers the API's AsyncLocalStorage context manager and runs each incoming HTTP
// request inside the span its W3C `traceparent` header names, as the SDK's HTTP instrumentation does
// (it wraps the server's 'request' event the same way). Nothing is exported or recorded.
import { createRequire } from 'node:module';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';

// The CommonJS module object, whose prototype the server the service creates uses.
const http = createRequire(import.meta.url)('node:http');
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, ...args) {
  const m = event === 'request' ? TRACEPARENT.exec(String(args[0].headers.traceparent ?? '')) : null;
  if (!m) return emit.call(this, event, ...args);
  const span = trace.wrapSpanContext({ traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16) });
  return context.with(trace.setSpan(ROOT_CONTEXT, span), () => emit.call(this, event, ...args));
};
