import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './configuration.js';
import { hashTag } from './redis-topology.js';

const DB = { DATABASE_URL: 'postgres://127.0.0.1/w' };
const boot = (env: Record<string, string>) => () => loadConfig({ ...DB, ...env });

describe('Redis topology settings', () => {
  let dir: string;
  let ca: string;
  let key: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'redis-topology-'));
    ca = join(dir, 'ca.pem');
    key = join(dir, 'ca.key');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', ca, '-days', '1', '-subj', '/CN=test'],
      {
        stdio: 'ignore',
      },
    );
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a single node from REDIS_URL, as before', () => {
    const c = loadConfig({ ...DB, REDIS_URL: 'redis://r:6379' });
    expect(c.queue).toMatchObject({ backend: 'redis', redisUrl: 'redis://r:6379', redis: { kind: 'single', url: 'redis://r:6379' } });
    expect(c.queue.redis).not.toHaveProperty('tls');
    expect(loadConfig(DB).queue).toMatchObject({ backend: 'postgres', redis: undefined });
  });

  it('reads Sentinel: sentinels, the name, passwords, TLS', () => {
    const c = loadConfig({
      ...DB,
      REDIS_SENTINELS: 's1:26379, s2 ,[::1]:26380',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_PASSWORD: 'pw',
      REDIS_SENTINEL_PASSWORD: 'spw',
      REDIS_TLS: 'true',
    });
    expect(c.queue.backend).toBe('redis');
    expect(c.queue.redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'mymaster',
      password: 'pw',
      sentinelPassword: 'spw',
      tls: {},
    });
  });

  it('reads a cluster, and refuses one whose QUEUE_PREFIX has no hash tag, naming QUEUE_PREFIX', () => {
    expect(loadConfig({ ...DB, REDIS_CLUSTER_NODES: 'n1:7000,n2:7001', QUEUE_PREFIX: 'bull:{wh}' }).queue.redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
    });
    expect(boot({ REDIS_CLUSTER_NODES: 'n1:7000' })).toThrow(/^QUEUE_PREFIX "bull" has no hash tag, which REDIS_CLUSTER_NODES needs/);
    expect(boot({ REDIS_CLUSTER_NODES: 'n1:7000', QUEUE_PREFIX: 'x{}' })).toThrow(/^QUEUE_PREFIX "x\{\}" has no hash tag/);
    expect(hashTag('a{b}c{d}')).toBe('b');
    expect(hashTag('{}x')).toBeUndefined();
  });

  it('stops the boot with one line naming the setting on two topologies or a half-configured one', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ REDIS_URL: 'redis://r', REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'm' }, /^REDIS_URL and REDIS_SENTINELS are both set/],
      [
        { REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'n:1', QUEUE_PREFIX: '{q}' },
        /^REDIS_SENTINELS and REDIS_CLUSTER_NODES/,
      ],
      [{ REDIS_SENTINELS: 's:26379' }, /^REDIS_SENTINELS is set without REDIS_SENTINEL_NAME/],
      [{ REDIS_SENTINEL_NAME: 'm' }, /^REDIS_SENTINEL_NAME is set without REDIS_SENTINELS/],
      [{ REDIS_SENTINELS: 's:99999', REDIS_SENTINEL_NAME: 'm' }, /^REDIS_SENTINELS entry "s:99999" is not host:port/],
      [{ REDIS_PASSWORD: 'x' }, /^REDIS_PASSWORD is set without a Redis/],
      [{ REDIS_URL: 'redis://r', REDIS_PASSWORD: 'x' }, /^REDIS_PASSWORD is for REDIS_SENTINELS or REDIS_CLUSTER_NODES/],
      [{ REDIS_URL: 'http://r' }, /^REDIS_URL must start with redis:\/\/ or rediss:\/\//],
      [{ QUEUE_BACKEND: 'redis' }, /^QUEUE_BACKEND=redis needs REDIS_URL/],
    ];
    for (const [env, line] of cases) {
      let error: unknown;
      try {
        loadConfig({ ...DB, ...env });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(line);
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('reads the TLS files at boot and names the one that is missing or not PEM', () => {
    const c = loadConfig({ ...DB, REDIS_URL: 'rediss://r:6380', REDIS_TLS_CA_FILE: ca });
    expect(c.queue.redis).toMatchObject({ kind: 'single', tls: { ca: expect.stringContaining('BEGIN CERTIFICATE') } });
    const mtls = loadConfig({
      ...DB,
      REDIS_CLUSTER_NODES: 'n:7000',
      QUEUE_PREFIX: '{q}',
      REDIS_TLS_CERT_FILE: ca,
      REDIS_TLS_KEY_FILE: key,
    });
    expect(mtls.queue.redis).toMatchObject({
      kind: 'cluster',
      tls: { cert: expect.any(String), key: expect.stringContaining('PRIVATE KEY') },
    });

    expect(boot({ REDIS_URL: 'rediss://r', REDIS_TLS_CA_FILE: join(dir, 'absent.pem') })).toThrow(
      /^REDIS_TLS_CA_FILE .*absent\.pem cannot be read: ENOENT$/,
    );
    expect(boot({ REDIS_URL: 'rediss://r', REDIS_TLS_CA_FILE: join(dir, 'junk.pem') })).toThrow(
      /^REDIS_TLS_CA_FILE .*junk\.pem is not a PEM certificate$/,
    );
    expect(boot({ REDIS_URL: 'redis://r', REDIS_TLS_CA_FILE: ca })).toThrow(
      /^REDIS_TLS_CA_FILE is set but REDIS_URL is redis:\/\/: use rediss:\/\//,
    );
    expect(boot({ REDIS_URL: 'rediss://r', REDIS_TLS_CERT_FILE: ca })).toThrow(/^REDIS_TLS_CERT_FILE is set without REDIS_TLS_KEY_FILE/);
    expect(boot({ REDIS_URL: 'rediss://r', REDIS_TLS_CERT_FILE: ca, REDIS_TLS_KEY_FILE: ca })).toThrow(
      /^REDIS_TLS_KEY_FILE .* is not a PEM private key/,
    );
  });

  it('warns in production when Sentinel or cluster traffic crosses the network in plain text', () => {
    const prod = { NODE_ENV: 'production', DATABASE_URL: 'postgres://127.0.0.1/w', WEBHOOK_SECRET: 'a-webhook-secret-of-32-characters-ok' };
    const sentinels = { REDIS_SENTINELS: 'sentinel.internal:26379', REDIS_SENTINEL_NAME: 'm' };
    expect(loadConfig({ ...prod, ...sentinels }).warnings).toEqual(['REDIS_SENTINELS connects to Redis without TLS: set REDIS_TLS=true']);
    expect(loadConfig({ ...prod, ...sentinels, REDIS_TLS: 'true' }).warnings).toEqual([]);
    expect(loadConfig({ ...prod, REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: '{q}' }).warnings).toEqual([]);
  });
});
