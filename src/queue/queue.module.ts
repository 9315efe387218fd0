import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/configuration.js';
import { queueRootOptions } from './queue-backend.js';
import { QueueErrorLogService } from './queue-error-log.service.js';
import { WEBHOOKS_QUEUE } from './queue.constants.js';
import { QueueHealthIndicator, RedisHealthIndicator } from './queue.health.js';
import { QueueMetrics, queueMetricProviders } from './queue.metrics.js';
import { QueueWorker } from './queue-worker.js';
import { RedisTopologyProbe } from './redis-topology.probe.js';
import { WebhookQueue } from './webhook-queue.js';
import { WorkerWatchdog, workerWatchdogProviders } from './worker-watchdog.js';

/**
 * The queue: its connection (QUEUE_BACKEND: Redis, or BullMQ's PostgreSQL backend, chosen
 * process-wide), the producer, its readiness checks, depth metrics and error log. The worker lives
 * in ProcessingModule (worker and all roles) and registers itself here (QueueWorker).
 */
@Global()
@Module({})
export class QueueModule {
  static forConfig(config: AppConfig): DynamicModule {
    return {
      module: QueueModule,
      imports: [
        BullModule.forRootAsync({ useFactory: () => queueRootOptions(config) as never }),
        // The worker (ProcessingModule) inherits this queue's connection and prefix.
        BullModule.registerQueue({ name: WEBHOOKS_QUEUE }),
      ],
      providers: [
        WebhookQueue,
        QueueWorker,
        QueueHealthIndicator,
        ...(config.queue.backend === 'redis' ? [RedisHealthIndicator, RedisTopologyProbe] : []),
        QueueMetrics,
        ...queueMetricProviders,
        WorkerWatchdog,
        ...workerWatchdogProviders,
        QueueErrorLogService,
      ],
      exports: [WebhookQueue, QueueWorker, BullModule],
    };
  }
}
