import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Queue } from 'bullmq';
import { withTimeout } from '../common/with-timeout.js';
import { AppConfig } from '../config/configuration.js';
import { HEALTH_CACHE_MS, HEALTH_CHECK_TIMEOUT_MS } from '../health/health.constants.js';
import { READINESS_ORDER, ReadinessCheck, ReadinessIndicator } from '../health/readiness-indicator.js';
import { WEBHOOKS_QUEUE } from './queue.constants.js';
import { QueueWorker } from './queue-worker.js';
import { RedisTopologyProbe } from './redis-topology.probe.js';
import { WorkerWatchdog } from './worker-watchdog.js';

/**
 * Ready when the queue backend (Redis or PostgreSQL) answers a job count, and, in the roles that
 * process events, when this process's worker is running.
 */
@ReadinessIndicator({ order: READINESS_ORDER.queue })
@Injectable()
export class QueueHealthIndicator implements ReadinessCheck {
  private readonly runsWorker: boolean;

  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue,
    private readonly health: HealthIndicatorService,
    private readonly queueWorker: QueueWorker,
    private readonly watchdog: WorkerWatchdog,
    config: ConfigService<AppConfig, true>,
  ) {
    this.runsWorker = config.get('app', { infer: true }).role !== 'api';
  }

  check() {
    return this.health
      .check('queue')
      .attempt(async () => {
        const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
        if (!this.runsWorker) return { worker: 'none (api role)', ...counts };
        const worker = this.workerState();
        if (worker !== 'running') throw new Error(`worker ${worker}`);
        // The worker takes jobs on a connection of its own (BZPOPMIN): after a failover it can be
        // dead while the queue's connection answers (src/queue/worker-watchdog.ts).
        const blocking = this.watchdog.blockingStatus;
        if (blocking !== undefined && blocking !== 'ready') throw new Error(`worker's blocking connection ${blocking}`);
        if (this.watchdog.stalled) throw new Error('worker stalled: jobs wait and it takes none (restarted by the watchdog)');
        return { worker, ...(blocking ? { blockingConnection: blocking } : {}), ...counts };
      })
      .withTimeout(HEALTH_CHECK_TIMEOUT_MS)
      .cacheFor(HEALTH_CACHE_MS);
  }

  private workerState(): 'running' | 'paused' | 'not running' | 'missing' {
    const worker = this.queueWorker.worker;
    if (!worker) return 'missing';
    if (worker.isPaused()) return 'paused';
    return worker.isRunning() && !worker.closing ? 'running' : 'not running';
  }
}

/**
 * Redis answers a PING on the queue's own connection, and is the right kind (a primary, in cluster
 * mode exactly when REDIS_CLUSTER_NODES is set); the details name the topology and the node
 * answering. Registered only when the queue runs on Redis: on the PostgreSQL backend the database and
 * queue checks cover it.
 */
@ReadinessIndicator({ order: READINESS_ORDER.redis })
@Injectable()
export class RedisHealthIndicator implements ReadinessCheck {
  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue,
    private readonly health: HealthIndicatorService,
    private readonly probe: RedisTopologyProbe,
  ) {}

  check() {
    return this.health
      .check('redis')
      .attempt(async () => {
        const report = await this.probe.inspect();
        if (report.problem) throw new Error(report.problem);
        const client = await withTimeout(this.queue.getBackend().client, HEALTH_CHECK_TIMEOUT_MS, () => new Error('no connection'));
        const redis = client as unknown as { status: string; ping(): Promise<string> };
        if (redis.status !== 'ready') throw new Error(`connection ${redis.status}`);
        await redis.ping();
        return { topology: report.topology, node: report.node ?? 'unknown' };
      })
      .withTimeout(HEALTH_CHECK_TIMEOUT_MS)
      .cacheFor(HEALTH_CACHE_MS);
  }
}
