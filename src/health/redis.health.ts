import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Queue, RedisQueueBackend } from 'bullmq';
import { WEBHOOKS_QUEUE } from '../queue/queue.constants.js';
import { HEALTH_CACHE_MS, HEALTH_CHECK_TIMEOUT_MS } from './health.constants.js';

/**
 * Redis answers a PING on the queue's own connection. Only meaningful when the queue runs on Redis:
 * on another backend (PostgreSQL) there is no Redis to check and the queue indicator covers it.
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue,
    private readonly health: HealthIndicatorService,
  ) {}

  get applies(): boolean {
    return this.queue.getBackend() instanceof RedisQueueBackend;
  }

  check() {
    return this.health
      .check('redis')
      .attempt(async () => {
        const client = (await (this.queue.getBackend() as RedisQueueBackend).client) as unknown as { status: string; ping?: () => Promise<string> };
        if (client.status !== 'ready') throw new Error(`connection ${client.status}`);
        if (client.ping) await client.ping();
      })
      .withTimeout(HEALTH_CHECK_TIMEOUT_MS)
      .cacheFor(HEALTH_CACHE_MS);
  }
}
