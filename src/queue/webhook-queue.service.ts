import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { withTimeout } from '../common/with-timeout.js';
import { PROCESS_EVENT_JOB, ProcessEventJobData, WEBHOOKS_QUEUE } from './queue.constants.js';

const ENQUEUE_TIMEOUT_MS = 3000;

export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
}

/** The only way into the webhooks queue: ingest, the stale-row sweeper and admin replays use it. */
@Injectable()
export class WebhookQueueService {
  constructor(@InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<ProcessEventJobData>) {}

  /**
   * Adds one job per event, with the inbox row id as jobId: adding an event whose job still exists
   * is a no-op, so callers may enqueue as often as they like. `jobIdSuffix` makes a fresh job (replay).
   * Rejects with QueueUnavailableError when the backend does not take the jobs in time.
   */
  async enqueue(items: ProcessEventJobData[], jobIdSuffix?: string): Promise<void> {
    if (items.length === 0) return;
    const redis = this.redisStatus();
    if (redis !== undefined && redis !== 'ready') throw new QueueUnavailableError(`queue unavailable: redis ${redis}`);
    const jobs = items.map((data) => ({
      name: PROCESS_EVENT_JOB,
      data,
      opts: { jobId: jobIdSuffix ? `${data.eventId}-${jobIdSuffix}` : data.eventId },
    }));
    try {
      await withTimeout(
        this.queue.addBulk(jobs),
        ENQUEUE_TIMEOUT_MS,
        () => new QueueUnavailableError(`queue did not accept jobs within ${ENQUEUE_TIMEOUT_MS} ms`),
      );
    } catch (err) {
      if (err instanceof QueueUnavailableError) throw err;
      throw new QueueUnavailableError(`queue unavailable: ${(err as Error).message}`);
    }
  }

  /**
   * The Redis connection's state (undefined on other backends). Commands given while Redis is away
   * wait in ioredis's offline queue, which the worker needs to ride out a Redis restart; a producer
   * behind an HTTP request must not wait there, so it refuses at once (the delivery gets a 503).
   */
  private redisStatus(): string | undefined {
    const backend = this.queue.getBackend() as unknown as { connection?: { _client?: { status?: string } } };
    return backend?.connection?._client?.status;
  }

  get rawQueue(): Queue<ProcessEventJobData> {
    return this.queue;
  }
}
