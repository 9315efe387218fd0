import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/configuration.js';
import { WebhookQueue } from '../queue/webhook-queue.js';
import { RetentionService } from './retention.service.js';

const RETRY_MS = 5000;

/**
 * Registers the retention pass with the queue's job scheduler (worker processes): BullMQ adds one
 * `privacy-retention` job per RETENTION_INTERVAL_MINUTES however many workers register it, and one
 * worker runs it (the processor hands it to RetentionService). With every retention setting at 0 the
 * scheduler is removed. Registering again at each start is harmless: the same scheduler is updated.
 */
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RetentionScheduler.name);
  private readonly everyMs: number;
  private readonly stopping = new AbortController();

  constructor(
    private readonly queue: WebhookQueue,
    private readonly retention: RetentionService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.everyMs = config.get('privacy', { infer: true }).intervalMinutes * 60_000;
  }

  onApplicationBootstrap(): void {
    void this.register();
  }

  onApplicationShutdown(): void {
    this.stopping.abort();
  }

  private async register(): Promise<void> {
    const everyMs = this.retention.enabled.length > 0 ? this.everyMs : undefined;
    for (let attempt = 1; !this.stopping.signal.aborted; attempt++) {
      try {
        await this.queue.scheduleRetention(everyMs);
        return;
      } catch (err) {
        if (attempt === 1) this.logger.warn(`retention schedule not registered yet (will retry): ${(err as Error).message}`);
        await sleep(RETRY_MS, undefined, { ref: false, signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }
}
