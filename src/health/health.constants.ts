/** A dependency that does not answer within this is reported down: probes must answer fast. */
export const HEALTH_CHECK_TIMEOUT_MS = 1000;
/** Probes from several sources (kubelet, Prometheus via app_ready) share one result for this long. */
export const HEALTH_CACHE_MS = 1000;
