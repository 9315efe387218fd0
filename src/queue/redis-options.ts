import type { RedisOptions } from 'bullmq';

/** BullMQ connection options for REDIS_URL (redis:// or rediss://). */
export function redisConnection(url: string, overrides: RedisOptions = {}): RedisOptions {
  return {
    url,
    // Reconnect forever with a capped delay: a Redis restart must heal without a pod restart.
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
    ...overrides,
  };
}
