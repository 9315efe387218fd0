import { hostname } from 'node:os';
import { register } from 'node:module';
import { markTracingOn } from './spans.js';
import { scrubUrls } from './url-scrubber.js';
import { DEFAULT_SERVICE_NAME, ROLE_ATTRIBUTE, tracingRequested } from './tracing-env.js';

/** What main.ts holds once tracing started: flushes and stops the SDK at shutdown. */
export interface Tracing {
  shutdown(): Promise<void>;
}

let started: Tracing | undefined;

/**
 * Starts the OpenTelemetry SDK when the standard OTEL_* variables ask for traces (tracing-env.ts),
 * before the application's modules are loaded: main.ts awaits this, then imports the app. Without
 * an exporter nothing of the SDK is even imported. Configured only by OTEL_* variables (exporter,
 * endpoint, protocol, sampler, service name, resource attributes, batch delays); the service adds
 * the default service name, its role and its instance id as resource attributes.
 */
export async function startTracing(env: NodeJS.ProcessEnv, role: string): Promise<Tracing | undefined> {
  if (started || !tracingRequested(env)) return started;

  // ESM: the app's imports reach pg, ioredis and node:http through the loader, where the
  // instrumentations hook them (import-in-the-middle); only the modules they name are wrapped.
  const { createAddHookMessageChannel } = await import('import-in-the-middle');
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);

  // The trace SDK and its parts rather than @opentelemetry/sdk-node, which would bring the metrics
  // and logs SDKs and all their exporters into the image (+110 MB) for nothing: traces only here.
  const [
    { NodeTracerProvider, BatchSpanProcessor },
    resources,
    { registerInstrumentations },
    { HttpInstrumentation },
    { PgInstrumentation },
    { IORedisInstrumentation },
    { FastifyOtelInstrumentation },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@fastify/otel'),
  ]);

  const exporter = await traceExporter(env);
  const urlScrubber = {
    onStart: () => undefined,
    onEnding: scrubUrls,
    onEnd: () => undefined,
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const isProbe = (url: string | undefined) => url !== undefined && (url.startsWith('/health/') || url.startsWith('/metrics'));

  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) override the defaults.
  const detected = resources.detectResources({ detectors: [resources.processDetector, resources.hostDetector, resources.envDetector] });
  // The sampler (OTEL_TRACES_SAMPLER, _ARG) and the batch delays (OTEL_BSP_*) come from the environment.
  const provider = new NodeTracerProvider({
    resource: resources
      .defaultResource()
      .merge(
        resources.resourceFromAttributes({
          'service.name': DEFAULT_SERVICE_NAME,
          'service.instance.id': `${hostname()}-${process.pid}`,
          [ROLE_ATTRIBUTE]: role,
        }),
      )
      .merge(detected),
    spanProcessors: [urlScrubber, new BatchSpanProcessor(exporter)],
  });
  // The AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        // Probes and scrapes would be most of the traces, and say nothing.
        ignoreIncomingRequestHook: (req) => isProbe(req.url),
        // Spans for calls made inside a traced operation only (not the exporter's own posts).
        requireParentforOutgoingSpans: true,
      }),
      // The request and its route handler; no span per lifecycle hook (a dozen per request).
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        instrumentHooks: false,
        ignorePaths: (route) => isProbe(route.url),
      }),
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  await waitForAllMessagesAcknowledged();
  markTracingOn();
  started = { shutdown: () => provider.shutdown() };
  return started;
}

/** Flushes the spans still buffered (called at shutdown); nothing without tracing. */
export async function stopTracing(): Promise<void> {
  await started?.shutdown().catch(() => undefined);
}

/** OTEL_TRACES_EXPORTER (otlp by default, or console) over OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by default). */
async function traceExporter(env: NodeJS.ProcessEnv) {
  const names = (env.OTEL_TRACES_EXPORTER ?? 'otlp').split(',').map((s) => s.trim());
  if (names.includes('console')) return new (await import('@opentelemetry/sdk-trace-node')).ConsoleSpanExporter();
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  if (protocol === 'grpc') return new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter();
  if (protocol === 'http/json') return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
}
