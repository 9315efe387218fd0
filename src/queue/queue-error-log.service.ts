import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { WEBHOOKS_QUEUE } from './queue.constants.js';
import { QueueWorker } from './queue-worker.js';

// While the backend is down every reconnect attempt fails; one line per source this often is enough.
const REPEAT_EVERY_MS = 30_000;

/**
 * Sends the queue's and the workers' connection errors to the log as structured, throttled lines.
 * Without a listener BullMQ prints each one to stderr with console.error (a stack every 2 s while
 * Redis is down), outside the JSON log.
 */
@Injectable()
export class QueueErrorLogService implements OnApplicationBootstrap {
  private readonly logger = new Logger('QueueBackend');
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue,
    private readonly queueWorker: QueueWorker,
  ) {}

  onApplicationBootstrap(): void {
    this.queue.on('error', (err: Error) => this.log(`queue ${this.queue.name}`, err));
    this.queueWorker.onRegistered((worker) => worker.on('error', (err: Error) => this.log(`worker ${worker.name}`, err)));
  }

  private log(source: string, err: Error): void {
    const now = Date.now();
    const last = this.lastLogged.get(source);
    if (last && now - last.at < REPEAT_EVERY_MS) {
      last.suppressed++;
      return;
    }
    const repeated = last?.suppressed ? ` (${last.suppressed} similar errors since the last line)` : '';
    this.lastLogged.set(source, { at: now, suppressed: 0 });
    this.logger.warn(`${source}: ${err.message}${repeated}`);
  }
}
