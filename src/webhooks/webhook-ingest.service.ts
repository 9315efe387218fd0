import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { MicroBatcher } from '../common/micro-batcher.js';
import { WebhookQueueService } from '../queue/webhook-queue.service.js';
import { InboxCandidate, InboxRow, WebhookEventsService } from './webhook-events.service.js';

export type IngestOutcome =
  | { status: 'accepted' | 'duplicate'; id: string }
  | { status: 'unavailable'; reason: string };

const MAX_BATCH = 500;
// Two batches in flight lets one INSERT run while the previous batch is being enqueued.
const MAX_CONCURRENT_BATCHES = 2;

/**
 * The durable front door: records each delivery in the inbox, makes sure its job exists, and only
 * then reports it accepted. Concurrent deliveries share one INSERT and one bulk enqueue.
 *
 * No transaction is held across the enqueue (on PostgreSQL-backed queues that would deadlock, and
 * it would hold locks for a network round trip): the row commits first, then the job is added.
 * A crash in between leaves a 'received' row that the platform's retry or the sweeper enqueues.
 */
@Injectable()
export class WebhookIngestService implements OnApplicationShutdown {
  private readonly logger = new Logger(WebhookIngestService.name);
  private readonly batcher = new MicroBatcher<InboxCandidate, IngestOutcome>((items) => this.flush(items), {
    maxBatch: MAX_BATCH,
    maxConcurrent: MAX_CONCURRENT_BATCHES,
  });

  constructor(
    private readonly inbox: WebhookEventsService,
    private readonly queue: WebhookQueueService,
  ) {}

  accept(candidate: InboxCandidate): Promise<IngestOutcome> {
    return this.batcher.submit(candidate);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.batcher.onIdle();
  }

  private async flush(items: InboxCandidate[]): Promise<IngestOutcome[]> {
    // The same key twice in one batch: the first one stands for both.
    const firstIndex = new Map<string, number>();
    const unique: InboxCandidate[] = [];
    const slot = items.map((c) => {
      const key = c.event.idempotencyKey;
      let i = firstIndex.get(key);
      if (i === undefined) {
        i = unique.push(c) - 1;
        firstIndex.set(key, i);
      }
      return i;
    });

    let rows: InboxRow[];
    try {
      rows = await this.inbox.recordBatch(unique);
    } catch (err) {
      this.logger.warn(`inbox write failed for ${unique.length} deliveries: ${(err as Error).message}`);
      return items.map(() => ({ status: 'unavailable', reason: 'database unavailable' }));
    }

    // New rows, and earlier rows not yet done (their job may have been lost): make sure a job exists.
    const toEnqueue = rows.flatMap((r, i) =>
      r.inserted || r.status === 'received' || r.status === 'processing'
        ? [{ eventId: r.id, event: r.event, requestId: unique[i].requestId }]
        : [],
    );
    let queued = true;
    try {
      await this.queue.enqueue(toEnqueue);
    } catch (err) {
      queued = false;
      this.logger.warn(`enqueue failed for ${toEnqueue.length} events (rows kept as 'received'): ${(err as Error).message}`);
    }

    const pendingNotQueued = new Set(queued ? [] : toEnqueue.map((j) => j.eventId));
    return items.map((_, idx) => {
      const uniqueIdx = slot[idx];
      const row = rows[uniqueIdx];
      if (pendingNotQueued.has(row.id)) return { status: 'unavailable', reason: 'queue unavailable' };
      const firstInBatch = unique[uniqueIdx] === items[idx];
      return { status: row.inserted && firstInBatch ? 'accepted' : 'duplicate', id: row.id };
    });
  }
}
