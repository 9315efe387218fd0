/**
 * Whether the standard OTEL_* variables ask for traces: an OTLP endpoint is set, or
 * OTEL_TRACES_EXPORTER names an exporter other than `none`; and OTEL_SDK_DISABLED is not true.
 * Without that the SDK is never loaded (start-tracing.ts), and the spans the service makes through
 * @opentelemetry/api are skipped (spans.ts).
 */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  if (exporters.includes('none')) return false;
  if (exporters.length > 0) return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** The service name when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES' service.name sets one. */
export const DEFAULT_SERVICE_NAME = 'interview-webhooks';
/** Resource attribute naming the process's APP_ROLE (api, worker, all). */
export const ROLE_ATTRIBUTE = 'app.role';
