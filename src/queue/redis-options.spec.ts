import { RedisConnection } from 'bullmq';
import { redisConnection, topologyConnection } from './redis-options.js';
import { ResilientRedis } from './resilient-redis.js';

describe('topologyConnection', () => {
  afterEach(() => (RedisConnection.clientFactory = undefined));

  it('gives a single node without TLS files exactly the options it always had (the hot path costs nothing more)', () => {
    const options = topologyConnection({ kind: 'single', url: 'redis://127.0.0.1:6379' });
    expect(Object.keys(options).sort()).toEqual(Object.keys(redisConnection('redis://127.0.0.1:6379')).sort());
    expect(options).toMatchObject({ url: 'redis://127.0.0.1:6379', enableAutoPipelining: false });
    expect(RedisConnection.clientFactory).toBeUndefined();
  });

  it('adds the CA and client certificate to a single node over TLS', () => {
    const options = topologyConnection({ kind: 'single', url: 'rediss://r:6380', tls: { ca: 'CA', cert: 'C', key: 'K' } });
    expect(options.tls).toEqual({ ca: 'CA', cert: 'C', key: 'K' });
  });

  it('connects through the sentinels, with TLS to them too when asked', () => {
    const options = topologyConnection({
      kind: 'sentinel',
      sentinels: [{ host: 's', port: 26379 }],
      name: 'mymaster',
      password: 'p',
      sentinelPassword: 'sp',
      tls: { ca: 'CA' },
    });
    expect(options).toMatchObject({
      sentinels: [{ host: 's', port: 26379 }],
      name: 'mymaster',
      password: 'p',
      sentinelPassword: 'sp',
      failoverDetector: true,
      tls: { ca: 'CA' },
      sentinelTLS: { ca: 'CA' },
      enableTLSForSentinelMode: true,
    });
    const client = RedisConnection.clientFactory!({ ...options, lazyConnect: true }) as unknown as {
      constructor: unknown;
      disconnect(): void;
    };
    expect(client).toBeInstanceOf(ResilientRedis);
    client.disconnect();
  });

  it('builds an ioredis Cluster per BullMQ connection, keeping the options BullMQ chose for it', () => {
    topologyConnection({ kind: 'cluster', nodes: [{ host: '127.0.0.1', port: 1 }], password: 'p' });
    const client = RedisConnection.clientFactory!({ maxRetriesPerRequest: null, lazyConnect: true }) as unknown as {
      isCluster: boolean;
      options: { enableOfflineQueue: boolean; redisOptions: Record<string, unknown> };
      disconnect(): void;
    };
    expect(client.isCluster).toBe(true);
    expect(client.options.enableOfflineQueue).toBe(true);
    expect(client.options.redisOptions).toMatchObject({ maxRetriesPerRequest: null, password: 'p' });
    client.disconnect();
  });
});
