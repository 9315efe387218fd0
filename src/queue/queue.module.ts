import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/configuration.js';
import { WEBHOOKS_QUEUE, webhookJobOptions } from './queue.constants.js';
import { redisConnection } from './redis-options.js';
import { WebhookQueueService } from './webhook-queue.service.js';

/** The queue connection and the producer side; the processor lives in ProcessingModule (worker role). */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const queue = config.get('queue', { infer: true });
        return {
          connection: redisConnection(queue.redisUrl),
          prefix: queue.prefix,
          defaultJobOptions: webhookJobOptions(queue.attempts, queue.backoffMs),
        };
      },
    }),
    BullModule.registerQueueAsync({
      name: WEBHOOKS_QUEUE,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => ({
        // A producer must fail fast while Redis is down (the delivery gets a 503 and is retried by
        // the platform) instead of buffering commands in memory behind an acknowledged request.
        connection: redisConnection(config.get('queue', { infer: true }).redisUrl, { enableOfflineQueue: false }),
      }),
    }),
  ],
  providers: [WebhookQueueService],
  exports: [WebhookQueueService, BullModule],
})
export class QueueModule {}
