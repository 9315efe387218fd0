import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Queue } from 'bullmq';
import { AppConfig } from '../config/configuration.js';
import { HEALTH_CACHE_MS, HEALTH_CHECK_TIMEOUT_MS } from '../health/health.constants.js';
import { WEBHOOKS_QUEUE } from './queue.constants.js';
import { WebhookEventsProcessor } from './webhook-events.processor.js';

/**
 * Ready when the queue backend (Redis or PostgreSQL) answers a job count, and, in the roles that
 * process events, when this process's worker is running.
 */
@Injectable()
export class QueueHealthIndicator implements OnModuleInit {
  private readonly runsWorker: boolean;
  private processor?: WebhookEventsProcessor;

  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue,
    private readonly health: HealthIndicatorService,
    private readonly moduleRef: ModuleRef,
    config: ConfigService<AppConfig, true>,
  ) {
    this.runsWorker = config.get('app', { infer: true }).role !== 'api';
  }

  onModuleInit(): void {
    if (!this.runsWorker) return;
    try {
      this.processor = this.moduleRef.get(WebhookEventsProcessor, { strict: false });
    } catch {
      this.processor = undefined;
    }
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
    if (!this.processor) return 'missing';
    try {
      const worker = this.processor.worker;
      if (worker.isPaused()) return 'paused';
      return worker.isRunning() && !worker.closing ? 'running' : 'not running';
    } catch {
      return 'missing';
    }
  }
}
