import type { ConnectionOptions } from 'node:tls';
import { Cluster, type ClusterOptions, type RedisOptions as IORedisOptions } from 'ioredis';
import { createIORedisClient, RedisConnection, type RedisOptions } from 'bullmq';
import type { RedisTls, RedisTopology } from '../config/redis-topology.js';
import { ResilientRedis } from './resilient-redis.js';

// Reconnect forever with a capped delay: a Redis restart or a failover must heal without a pod restart.
const retryStrategy = (times: number) => Math.min(times * 200, 2000);

/** BullMQ connection options for REDIS_URL (redis:// or rediss://). */
export function redisConnection(url: string, overrides: RedisOptions = {}): RedisOptions {
  return {
    url,
    retryStrategy,
    // No auto-pipelining: ioredis builds a Pipeline object for each write it groups and copies every
    // one of BullMQ's 64 scripts onto it (76-96 µs a pipeline on this project's bench host), more
    // than the socket writes it saves now that one job carries a batch of events (docs/benchmarks.md).
    enableAutoPipelining: false,
    ...overrides,
  };
}

/** A demoted primary answers writes with READONLY: reconnect (Sentinel then names the new one) and resend. */
const reconnectOnReadonly = (err: Error) => (err.message.startsWith('READONLY') ? 2 : false);

/** The TLS options of a connection to a Redis node: the private CA and the client certificate, when given. */
export function tlsOptions(tls: RedisTls): ConnectionOptions {
  return { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}) };
}

/**
 * BullMQ connection options for the configured topology. Every Queue and Worker connection gets a
 * client of its own built from them, as with a URL (the worker's blocking connection too). A single
 * node without TLS files gets exactly redisConnection(url): the hot path costs what it did.
 *
 * Sentinel and Cluster clients are built here: BullMQ builds its clients through
 * RedisConnection.clientFactory, which this sets (process-wide, like the backend factory) to make,
 * with the options BullMQ chose for that connection (a worker's blocking one gets
 * maxRetriesPerRequest null), a ResilientRedis through the sentinels, or an ioredis Cluster from the
 * seeds (a cluster has no options form in ioredis).
 */
export function topologyConnection(topology: RedisTopology): RedisOptions {
  RedisConnection.clientFactory = undefined;
  switch (topology.kind) {
    case 'single':
      return topology.tls
        ? redisConnection(topology.url, { tls: tlsOptions(topology.tls), reconnectOnError: reconnectOnReadonly })
        : redisConnection(topology.url);
    case 'sentinel':
      // A client ended by a failover caught mid-connect connects again (resilient-redis.ts).
      RedisConnection.clientFactory = (opts: RedisOptions) =>
        createIORedisClient(new ResilientRedis(opts as IORedisOptions, retryStrategy));
      return {
        sentinels: topology.sentinels,
        name: topology.name,
        username: topology.username,
        password: topology.password,
        sentinelPassword: topology.sentinelPassword,
        // ioredis subscribes to the sentinels' +switch-master and moves at once, instead of waiting
        // for the old primary's connection to drop (a SIGKILLed host may never send a FIN).
        failoverDetector: true,
        retryStrategy,
        sentinelRetryStrategy: (times: number) => Math.min(times * 200, 2000),
        reconnectOnError: reconnectOnReadonly,
        enableAutoPipelining: false,
        ...(topology.tls ? { tls: tlsOptions(topology.tls), sentinelTLS: tlsOptions(topology.tls), enableTLSForSentinelMode: true } : {}),
      };
    case 'cluster': {
      const { nodes, username, password, tls } = topology;
      RedisConnection.clientFactory = (opts: RedisOptions) => {
        const { enableOfflineQueue, ...redisOptions } = opts as RedisOptions & { host?: string; port?: number };
        delete (redisOptions as { host?: string }).host;
        delete (redisOptions as { port?: number }).port;
        const clusterOptions: ClusterOptions = {
          clusterRetryStrategy: retryStrategy,
          enableOfflineQueue: enableOfflineQueue ?? true,
          // A failover moves slots: ask the cluster again soon rather than fail the command.
          retryDelayOnFailover: 200,
          retryDelayOnClusterDown: 200,
          slotsRefreshTimeout: 2000,
          enableAutoPipelining: false,
          redisOptions: { ...redisOptions, username, password, ...(tls ? { tls: tlsOptions(tls) } : {}) },
        };
        return createIORedisClient(new Cluster(nodes, clusterOptions));
      };
      return { retryStrategy, enableAutoPipelining: false };
    }
  }
}
