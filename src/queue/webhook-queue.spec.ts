import { EventEmitter } from 'node:events';
import { RedisQueueBackend, type Queue } from 'bullmq';
import { QueueUnavailableError, WebhookQueue } from './webhook-queue.js';

/** A queue on a Redis backend whose client the test controls, and whose commands never answer. */
async function stalledQueue(status = 'ready') {
  const client = Object.assign(new EventEmitter(), { status });
  const backend = Object.create(RedisQueueBackend.prototype) as RedisQueueBackend;
  Object.defineProperty(backend, 'client', { value: Promise.resolve(client) });
  const queue = {
    getBackend: () => backend,
    add: () => new Promise(() => undefined),
    addBulk: () => new Promise(() => undefined),
    getJobState: () => new Promise(() => undefined),
  };
  const service = new WebhookQueue(queue as unknown as Queue);
  service.onModuleInit();
  await new Promise((resolve) => setImmediate(resolve));
  return { client, service };
}

const event = {
  jobId: '00000000-0000-4000-8000-000000000001',
  data: { eventId: '00000000-0000-4000-8000-000000000001', event: 'session.feedback_submitted' },
};

describe('WebhookQueue', () => {
  it('refuses at once while Redis is not connected', async () => {
    const { service } = await stalledQueue('reconnecting');
    await expect(service.enqueueEvents([event])).rejects.toThrow(new QueueUnavailableError('queue unavailable: redis reconnecting'));
  });

  it('fails enqueues and lookups in flight at once when the Redis connection drops', async () => {
    const { client, service } = await stalledQueue();
    const started = Date.now();
    const enqueue = service.enqueueEvents([event]);
    const lookup = service.liveJobIds(['batch-1']);
    const batches = service.enqueueBatches([{ jobId: 'batch-2', events: [event.data] }]);
    client.emit('close');
    for (const op of [enqueue, lookup, batches]) await expect(op).rejects.toBeInstanceOf(QueueUnavailableError);
    expect(Date.now() - started).toBeLessThan(1000); // not the 3 s enqueue timeout
    // The watch stays in place for later operations.
    const again = service.enqueueEvents([event]);
    client.emit('close');
    await expect(again).rejects.toThrow(/connection dropped/);
  });

  it('refuses at once until Redis first answered', async () => {
    const backend = Object.create(RedisQueueBackend.prototype) as RedisQueueBackend;
    Object.defineProperty(backend, 'client', { value: new Promise(() => undefined) });
    const service = new WebhookQueue({ getBackend: () => backend } as unknown as Queue);
    service.onModuleInit();
    await expect(service.enqueueEvents([event])).rejects.toThrow(/redis connecting/);
  });

  it('holds the boot (before the server listens) until Redis first answers, for at most 2 s', async () => {
    const answering = Object.create(RedisQueueBackend.prototype) as RedisQueueBackend;
    let answer!: (client: unknown) => void;
    Object.defineProperty(answering, 'client', { value: new Promise((r) => (answer = r)) });
    const booting = new WebhookQueue({ getBackend: () => answering } as unknown as Queue);
    booting.onModuleInit();
    let booted = false;
    const boot = booting.onApplicationBootstrap().then(() => (booted = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(booted).toBe(false);
    answer({ status: 'ready', on: () => undefined });
    await boot;

    const silent = Object.create(RedisQueueBackend.prototype) as RedisQueueBackend;
    Object.defineProperty(silent, 'client', { value: new Promise(() => undefined) });
    const alone = new WebhookQueue({ getBackend: () => silent } as unknown as Queue);
    alone.onModuleInit();
    const started = Date.now();
    await alone.onApplicationBootstrap();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
  });
});
