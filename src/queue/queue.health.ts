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
        return { worker, ...counts };
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
 * Redis answers a PING on the queue's own connection. Registered only when the queue runs on Redis:
 * on the PostgreSQL backend the database and queue checks cover it.
 */
@ReadinessIndicator({ order: READINESS_ORDER.redis })
@Injectable()
export class RedisHealthIndicator implements ReadinessCheck {
  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue,
    private readonly health: HealthIndicatorService,
  ) {}

  check() {
    return this.health
      .check('redis')
      .attempt(async () => {
        const client = await withTimeout(this.queue.getBackend().client, HEALTH_CHECK_TIMEOUT_MS, () => new Error('no connection'));
        const redis = client as unknown as { status: string; ping(): Promise<string> };
        if (redis.status !== 'ready') throw new Error(`connection ${redis.status}`);
        await redis.ping();
      })
      .withTimeout(HEALTH_CHECK_TIMEOUT_MS)
      .cacheFor(HEALTH_CACHE_MS);
  }
}
