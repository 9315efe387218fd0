import type { RedisOptions } from 'bullmq';

/** BullMQ connection options for REDIS_URL (redis:// or rediss://). */
export function redisConnection(url: string, overrides: RedisOptions = {}): RedisOptions {
  return {
    url,
    // Reconnect forever with a capped delay: a Redis restart must heal without a pod restart.
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
    // No auto-pipelining: ioredis builds a Pipeline object for each write it groups and copies every
    // one of BullMQ's 64 scripts onto it (76-96 µs a pipeline on this project's bench host), more
    // than the socket writes it saves now that one job carries a batch of events (docs/benchmarks.md).
    enableAutoPipelining: false,
    ...overrides,
  };
}
