import { EventEmitter } from 'node:events';
import type { Queue } from 'bullmq';
import { QueueUnavailableError, WebhookQueueService } from './webhook-queue.service.js';

/** A queue whose Redis client the test controls, and whose commands never answer. */
function stalledQueue(status = 'ready') {
  const client = Object.assign(new EventEmitter(), { status });
  const queue = {
    getBackend: () => ({ connection: { _client: client } }),
    addBulk: () => new Promise(() => undefined),
    getJobState: () => new Promise(() => undefined),
  };
  return { client, service: new WebhookQueueService(queue as unknown as Queue) };
}

const event = { eventId: '00000000-0000-4000-8000-000000000001', event: 'session.feedback_submitted' };

describe('WebhookQueueService', () => {
  it('refuses at once while Redis is not connected', async () => {
    const { service } = stalledQueue('reconnecting');
    await expect(service.enqueue([event])).rejects.toThrow(new QueueUnavailableError('queue unavailable: redis reconnecting'));
  });

  it('fails enqueues and lookups in flight at once when the Redis connection drops', async () => {
    const { client, service } = stalledQueue();
    const started = Date.now();
    const enqueue = service.enqueue([event]);
    const lookup = service.liveJobIds(['batch-1']);
    const batches = service.enqueueBatches([{ jobId: 'batch-2', events: [event] }]);
    client.emit('close');
    for (const op of [enqueue, lookup, batches]) await expect(op).rejects.toBeInstanceOf(QueueUnavailableError);
    expect(Date.now() - started).toBeLessThan(1000); // not the 3 s enqueue timeout
    // The watch stays in place for later operations.
    const again = service.enqueue([event]);
    client.emit('close');
    await expect(again).rejects.toThrow(/connection dropped/);
  });
});
