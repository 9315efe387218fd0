import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/configuration.js';
import { queueRootOptions } from './queue-backend.js';
import { WEBHOOKS_QUEUE } from './queue.constants.js';
import { QueueHealthIndicator } from './queue.health.js';
import { WebhookQueueService } from './webhook-queue.service.js';

/** The queue connection and the producer side; the processor lives in ProcessingModule (worker role). */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [ConfigService],
      // Also selects the backend (QUEUE_BACKEND: Redis, or BullMQ's PostgreSQL backend) process-wide.
      useFactory: (config: ConfigService<AppConfig, true>) => queueRootOptions(configOf(config)) as never,
    }),
    // Inherits the root connection; the worker (ProcessingModule) gets the same.
    BullModule.registerQueue({ name: WEBHOOKS_QUEUE }),
  ],
  providers: [WebhookQueueService, QueueHealthIndicator],
  exports: [WebhookQueueService, QueueHealthIndicator, BullModule],
})
export class QueueModule {}

function configOf(config: ConfigService<AppConfig, true>): AppConfig {
  return {
    database: config.get('database', { infer: true }),
    queue: config.get('queue', { infer: true }),
  } as AppConfig;
}
