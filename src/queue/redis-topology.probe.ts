import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { withTimeout } from '../common/with-timeout.js';
import { AppConfig } from '../config/configuration.js';
import { describeNodes, hashTag, RedisTopology, RedisTopologyKind } from '../config/redis-topology.js';
import { WEBHOOKS_QUEUE } from './queue.constants.js';
import { tlsOptions } from './redis-options.js';

// Within readiness's 1 s budget: the queue's client, then (cluster) a direct look at a seed.
const PROBE_TIMEOUT_MS = 400;

/** What the topology probe found: the node answering for the queue, and what is wrong with it, if anything. */
export interface RedisTopologyReport {
  topology: RedisTopologyKind;
  /** host:port of the primary (single, Sentinel) or of the cluster node holding the queue's slot; unknown until it answers. */
  node?: string;
  /** One line for the log and readiness: a Redis that answers but is the wrong kind. */
  problem?: string;
}

/** The part of ioredis's Redis / Cluster clients the probe reads (BullMQ's proxy forwards it). */
interface ProbedClient {
  status: string;
  isCluster?: boolean;
  stream?: { remoteAddress?: string; remotePort?: number };
  slots?: string[][];
  call(...args: string[]): Promise<unknown>;
}

/**
 * Reports which Redis answers for the queue and refuses the wrong kind: a replica (writes fail with
 * READONLY), a cluster node behind REDIS_URL or REDIS_SENTINELS, a standalone server behind
 * REDIS_CLUSTER_NODES. Read at boot (one error line) and by readiness and the metrics.
 */
@Injectable()
export class RedisTopologyProbe implements OnApplicationBootstrap {
  private readonly logger = new Logger('RedisTopology');
  private readonly topology?: RedisTopology;
  private readonly tag?: string;
  private last?: RedisTopologyReport;

  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue,
    config: ConfigService<AppConfig, true>,
  ) {
    const queueConfig = config.get('queue', { infer: true });
    this.topology = queueConfig.backend === 'redis' ? queueConfig.redis : undefined;
    this.tag = hashTag(queueConfig.prefix);
  }

  /** The last report (the metrics read it without a round trip). */
  get lastReport(): RedisTopologyReport | undefined {
    return this.last;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.topology) return;
    const report = await this.inspect();
    if (report.problem) this.logger.error(report.problem);
    else this.logger.log(`queue on Redis (${report.topology}${report.node ? `, ${report.node}` : ''})`);
  }

  async inspect(): Promise<RedisTopologyReport> {
    const topology = this.topology!;
    const report = await this.inspectClient(topology).catch((err: Error): RedisTopologyReport => ({
      topology: topology.kind,
      problem: err instanceof WrongKind ? err.message : `Redis did not answer: ${err.message}`,
    }));
    this.last = report;
    return report;
  }

  private async inspectClient(topology: RedisTopology): Promise<RedisTopologyReport> {
    const kind = topology.kind;
    const client = await withTimeout(this.queue.getBackend().client as unknown as Promise<ProbedClient>, PROBE_TIMEOUT_MS, () =>
      kind === 'cluster' ? new Error('not connected') : new Error('no connection'),
    ).catch(async (err: Error) => {
      // A cluster client never gets ready against a server without cluster mode: ask a seed directly.
      if (kind === 'cluster') {
        const seedProblem = await this.clusterSeedProblem(topology);
        if (seedProblem) throw new WrongKind(seedProblem);
      }
      throw err;
    });
    if (kind === 'cluster') {
      const slot = Number(await client.call('CLUSTER', 'KEYSLOT', this.tag ?? ''));
      const node = client.slots?.[slot]?.[0];
      return { topology: kind, node };
    }
    const node = client.stream?.remoteAddress ? `${client.stream.remoteAddress}:${client.stream.remotePort}` : undefined;
    const setting = kind === 'single' ? 'REDIS_URL' : `REDIS_SENTINEL_NAME ${topology.name}`;
    const role = (await client.call('ROLE')) as [string, ...unknown[]];
    if (role[0] !== 'master') {
      return {
        topology: kind,
        node,
        problem: `${setting} names a Redis replica (role ${role[0]}), which refuses writes: point it at the primary`,
      };
    }
    const info = String(await client.call('INFO', 'cluster'));
    if (/cluster_enabled:1/.test(info)) {
      return {
        topology: kind,
        node,
        problem: `${setting} names a node of a Redis Cluster: set REDIS_CLUSTER_NODES (and a hash-tagged QUEUE_PREFIX) instead`,
      };
    }
    return { topology: kind, node };
  }

  /** A seed that answers but is not in cluster mode, as a problem line; undefined otherwise. */
  private async clusterSeedProblem(topology: Extract<RedisTopology, { kind: 'cluster' }>): Promise<string | undefined> {
    const seed = topology.nodes[0];
    const redis = new Redis({
      host: seed.host,
      port: seed.port,
      username: topology.username,
      password: topology.password,
      ...(topology.tls ? { tls: tlsOptions(topology.tls) } : {}),
      lazyConnect: true,
      connectTimeout: PROBE_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      const info = await redis.info('cluster');
      if (/cluster_enabled:0/.test(info))
        return `REDIS_CLUSTER_NODES ${describeNodes([seed])} is not in cluster mode (cluster_enabled:0): set REDIS_URL for a single node`;
      return undefined;
    } catch {
      return undefined;
    } finally {
      redis.disconnect();
    }
  }
}

class WrongKind extends Error {}
