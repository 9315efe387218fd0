import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Env } from './env.schema.js';

/** A Redis node as `host:port` settings name it. */
export interface HostPort {
  host: string;
  port: number;
}

/** PEM contents read at boot (files named by REDIS_TLS_*_FILE). */
export interface RedisTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * Where the queue's Redis is and how to reach it. `tls` undefined: plain TCP (a `rediss://` URL
 * still encrypts with the system CAs: ioredis reads the scheme). Credentials of a single node stay
 * in its URL.
 */
export type RedisTopology =
  | { kind: 'single'; url: string; tls?: RedisTls }
  | {
      kind: 'sentinel';
      sentinels: HostPort[];
      name: string;
      username?: string;
      password?: string;
      sentinelPassword?: string;
      tls?: RedisTls;
    }
  | { kind: 'cluster'; nodes: HostPort[]; username?: string; password?: string; tls?: RedisTls };

export type RedisTopologyKind = RedisTopology['kind'];

type TopologyEnv = Pick<
  Env,
  | 'REDIS_URL'
  | 'REDIS_SENTINELS'
  | 'REDIS_SENTINEL_NAME'
  | 'REDIS_SENTINEL_PASSWORD'
  | 'REDIS_CLUSTER_NODES'
  | 'REDIS_USERNAME'
  | 'REDIS_PASSWORD'
  | 'REDIS_TLS'
  | 'REDIS_TLS_CA_FILE'
  | 'REDIS_TLS_CERT_FILE'
  | 'REDIS_TLS_KEY_FILE'
  | 'QUEUE_PREFIX'
>;

/** A configuration that must stop the boot: one line naming the setting (loadConfig turns it into a ConfigError). */
export class RedisTopologyError extends Error {
  override name = 'RedisTopologyError';
}

/**
 * The Redis topology the settings describe, or undefined when none is set. Refuses, in one line
 * naming the setting: two topologies at once, a half-configured one (sentinels without a master
 * name, a name without sentinels), a `host:port` that is not one, a cluster whose QUEUE_PREFIX has no
 * hash tag (BullMQ's scripts touch several keys, which a cluster only allows within one slot), and TLS
 * files that are missing or not PEM.
 */
export function resolveRedisTopology(
  e: TopologyEnv,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): RedisTopology | undefined {
  const set = [
    e.REDIS_URL !== undefined && 'REDIS_URL',
    e.REDIS_SENTINELS.length > 0 && 'REDIS_SENTINELS',
    e.REDIS_CLUSTER_NODES.length > 0 && 'REDIS_CLUSTER_NODES',
  ].filter((s): s is string => s !== false);
  if (set.length > 1) throw new RedisTopologyError(`${set.join(' and ')} are both set: choose one Redis topology`);
  if (e.REDIS_SENTINEL_NAME !== undefined && e.REDIS_SENTINELS.length === 0)
    throw new RedisTopologyError('REDIS_SENTINEL_NAME is set without REDIS_SENTINELS: list the sentinels as host:port,…');
  if (e.REDIS_SENTINELS.length > 0 && e.REDIS_SENTINEL_NAME === undefined)
    throw new RedisTopologyError("REDIS_SENTINELS is set without REDIS_SENTINEL_NAME: set the primary's name the sentinels monitor");
  const files = e.REDIS_TLS_CA_FILE ?? e.REDIS_TLS_CERT_FILE ?? e.REDIS_TLS_KEY_FILE;
  if (set.length === 0) {
    const stray = [
      ['REDIS_SENTINEL_PASSWORD', e.REDIS_SENTINEL_PASSWORD],
      ['REDIS_USERNAME', e.REDIS_USERNAME],
      ['REDIS_PASSWORD', e.REDIS_PASSWORD],
      ['REDIS_TLS_CA_FILE', e.REDIS_TLS_CA_FILE],
      ['REDIS_TLS_CERT_FILE', e.REDIS_TLS_CERT_FILE],
      ['REDIS_TLS_KEY_FILE', e.REDIS_TLS_KEY_FILE],
    ].find(([, v]) => v !== undefined);
    if (stray) throw new RedisTopologyError(`${stray[0]} is set without a Redis: set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES`);
    return undefined;
  }
  const tlsFiles = files === undefined ? undefined : readTls(e, readFile);

  if (e.REDIS_URL !== undefined) {
    for (const name of ['REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD', 'REDIS_TLS'] as const) {
      if (e[name] !== undefined)
        throw new RedisTopologyError(`${name} is for REDIS_SENTINELS or REDIS_CLUSTER_NODES: with REDIS_URL, say it in the URL`);
    }
    let url: URL;
    try {
      url = new URL(e.REDIS_URL);
    } catch {
      throw new RedisTopologyError('REDIS_URL is not a URL: use redis://host:6379 or rediss://host:6380');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
      throw new RedisTopologyError('REDIS_URL must start with redis:// or rediss://');
    if (tlsFiles && url.protocol !== 'rediss:')
      throw new RedisTopologyError(
        `${files === e.REDIS_TLS_CA_FILE ? 'REDIS_TLS_CA_FILE' : 'REDIS_TLS_CERT_FILE'} is set but REDIS_URL is redis://: use rediss://`,
      );
    return { kind: 'single', url: e.REDIS_URL, ...(tlsFiles ? { tls: tlsFiles } : {}) };
  }
  // No scheme to say it: TLS when asked for, or when certificate files are given.
  const tls = (e.REDIS_TLS ?? tlsFiles !== undefined) ? (tlsFiles ?? {}) : undefined;
  if (e.REDIS_TLS === false && tlsFiles)
    throw new RedisTopologyError('REDIS_TLS is false but REDIS_TLS_*_FILE settings are given: drop one');
  const credentials = {
    ...(e.REDIS_USERNAME !== undefined ? { username: e.REDIS_USERNAME } : {}),
    ...(e.REDIS_PASSWORD !== undefined ? { password: e.REDIS_PASSWORD } : {}),
    ...(tls ? { tls } : {}),
  };
  if (e.REDIS_SENTINELS.length > 0) {
    return {
      kind: 'sentinel',
      sentinels: hostPorts('REDIS_SENTINELS', e.REDIS_SENTINELS, 26379),
      name: e.REDIS_SENTINEL_NAME!,
      ...(e.REDIS_SENTINEL_PASSWORD !== undefined ? { sentinelPassword: e.REDIS_SENTINEL_PASSWORD } : {}),
      ...credentials,
    };
  }
  if (e.REDIS_SENTINEL_PASSWORD !== undefined) throw new RedisTopologyError('REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINELS');
  if (hashTag(e.QUEUE_PREFIX) === undefined) {
    throw new RedisTopologyError(
      `QUEUE_PREFIX ${JSON.stringify(e.QUEUE_PREFIX)} has no hash tag, which REDIS_CLUSTER_NODES needs (the queue's keys must share one slot): use e.g. {webhooks} or bull:{webhooks}`,
    );
  }
  return { kind: 'cluster', nodes: hostPorts('REDIS_CLUSTER_NODES', e.REDIS_CLUSTER_NODES, 6379), ...credentials };
}

/** The part of a key Redis Cluster hashes: the text between the first `{` and the next `}`, if not empty. */
export function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/** `host:port` for logs, metrics and the health details. */
export function describeNodes(nodes: HostPort[]): string {
  return nodes.map((n) => `${n.host}:${n.port}`).join(',');
}

function hostPorts(setting: string, entries: string[], defaultPort: number): HostPort[] {
  return entries.map((entry) => {
    // [v6]:port, host:port, or host alone
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(entry);
    const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
    if (!m || port < 1 || port > 65535) throw new RedisTopologyError(`${setting} entry ${JSON.stringify(entry)} is not host:port`);
    return { host: m[1] ?? m[2], port };
  });
}

function readTls(e: TopologyEnv, readFile: (path: string) => string): RedisTls {
  const tls: RedisTls = {};
  const read = (setting: string, path: string): string => {
    try {
      return readFile(path);
    } catch (err) {
      throw new RedisTopologyError(`${setting} ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  if (e.REDIS_TLS_CA_FILE !== undefined) {
    tls.ca = read('REDIS_TLS_CA_FILE', e.REDIS_TLS_CA_FILE);
    if (!parsesAsCertificate(tls.ca)) throw new RedisTopologyError(`REDIS_TLS_CA_FILE ${e.REDIS_TLS_CA_FILE} is not a PEM certificate`);
  }
  if ((e.REDIS_TLS_CERT_FILE === undefined) !== (e.REDIS_TLS_KEY_FILE === undefined)) {
    throw new RedisTopologyError(
      e.REDIS_TLS_CERT_FILE === undefined
        ? 'REDIS_TLS_KEY_FILE is set without REDIS_TLS_CERT_FILE'
        : 'REDIS_TLS_CERT_FILE is set without REDIS_TLS_KEY_FILE',
    );
  }
  if (e.REDIS_TLS_CERT_FILE !== undefined && e.REDIS_TLS_KEY_FILE !== undefined) {
    tls.cert = read('REDIS_TLS_CERT_FILE', e.REDIS_TLS_CERT_FILE);
    if (!parsesAsCertificate(tls.cert))
      throw new RedisTopologyError(`REDIS_TLS_CERT_FILE ${e.REDIS_TLS_CERT_FILE} is not a PEM certificate`);
    tls.key = read('REDIS_TLS_KEY_FILE', e.REDIS_TLS_KEY_FILE);
    try {
      createPrivateKey(tls.key);
    } catch {
      throw new RedisTopologyError(`REDIS_TLS_KEY_FILE ${e.REDIS_TLS_KEY_FILE} is not a PEM private key (or it is encrypted)`);
    }
  }
  return tls;
}

function parsesAsCertificate(pem: string): boolean {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return false;
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}
