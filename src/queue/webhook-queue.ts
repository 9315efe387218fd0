import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { JobsOptions, JobType, Queue, RedisQueueBackend } from 'bullmq';
import { withTimeout } from '../common/with-timeout.js';
import {
  BatchJob,
  EventJob,
  PROCESS_BATCH_JOB,
  PROCESS_EVENT_JOB,
  ProcessBatchJobData,
  ProcessEventJobData,
  RETENTION_JOB,
  RETENTION_SCHEDULER,
  WEBHOOKS_QUEUE,
} from './queue.constants.js';

const ENQUEUE_TIMEOUT_MS = 3000;
/** How long the boot waits for Redis's first answer before the service listens without it. */
const BOOT_CONNECT_WAIT_MS = 2000;

/** A job in one of these states will still run. */
const LIVE_JOB_STATES: ReadonlySet<JobType | 'unknown'> = new Set(['waiting', 'waiting-children', 'prioritized', 'delayed', 'active']);

export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
}

type AnyJobData = ProcessEventJobData | ProcessBatchJobData | Record<string, never>;

/** What this service uses of the ioredis client under a Redis-backed queue. */
interface RedisClient {
  status: string;
  on(event: 'close', listener: () => void): unknown;
}

/**
 * The producer: the only way into the webhooks queue (ingest, the processor's follow-ups, the
 * sweeper and replays use it). Jobs carry their ids (src/inbox/job-ids.ts), so adding a job that
 * still exists is a no-op and callers may enqueue as often as they like. Every add rejects with
 * QueueUnavailableError when the backend does not take the jobs in time.
 */
@Injectable()
export class WebhookQueue implements OnModuleInit, OnApplicationBootstrap {
  /** Rejecters of the operations in flight, failed at once when the Redis connection drops. */
  private readonly inFlight = new Set<(err: Error) => void>();
  /** The Redis backend's client once it first connected; `connecting` until then (other backends: neither). */
  private redis?: RedisClient | 'connecting';
  private firstConnection?: Promise<void>;

  constructor(@InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<AnyJobData>) {}

  onModuleInit(): void {
    const backend = this.queue.getBackend();
    if (!(backend instanceof RedisQueueBackend)) return;
    this.redis = 'connecting';
    // BullMQ hands out its client once Redis first answered (not awaited: the process boots while Redis is down).
    this.firstConnection = backend.client.then(
      (client) => this.watch(client as unknown as RedisClient),
      () => undefined,
    );
  }

  /**
   * Runs before the HTTP server listens: it waits (a little) for Redis's first answer, so that the
   * first deliveries after a start are not refused while the connection is still being made. A
   * Redis that is down does not hold the boot: deliveries get 503 until it answers.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (this.redis !== 'connecting' || !this.firstConnection) return;
    await withTimeout(this.firstConnection, BOOT_CONNECT_WAIT_MS, () => new Error('Redis did not answer yet')).catch(() => undefined);
  }

  private watch(client: RedisClient): void {
    this.redis = client;
    client.on('close', () => {
      const lost = new QueueUnavailableError('queue unavailable: the Redis connection dropped');
      for (const reject of this.inFlight) reject(lost);
      this.inFlight.clear();
    });
  }

  async enqueueEvents(jobs: EventJob[]): Promise<void> {
    await this.add(jobs.map(({ jobId, data, opts }) => ({ name: PROCESS_EVENT_JOB, data, opts: { ...opts, jobId } })));
  }

  async enqueueBatches(batches: BatchJob[]): Promise<void> {
    await this.add(batches.map(({ jobId, events }) => ({ name: PROCESS_BATCH_JOB, data: { events }, opts: { jobId } })));
  }

  /**
   * The retention pass's job scheduler: one job every `everyMs` across all workers; undefined removes
   * it. Its job carries nothing (no personal data travels through the queue).
   */
  async scheduleRetention(everyMs: number | undefined): Promise<void> {
    this.assertReachable();
    const op: Promise<unknown> =
      everyMs === undefined
        ? this.queue.removeJobScheduler(RETENTION_SCHEDULER)
        : this.queue.upsertJobScheduler(RETENTION_SCHEDULER, { every: everyMs }, { name: RETENTION_JOB, data: {} });
    await withTimeout(
      this.failOnDisconnect(op),
      ENQUEUE_TIMEOUT_MS,
      () => new QueueUnavailableError(`queue did not answer within ${ENQUEUE_TIMEOUT_MS} ms`),
    );
  }

  /** Which of these job ids name a job that will still run (waiting, delayed or active). */
  async liveJobIds(jobIds: Iterable<string>): Promise<Set<string>> {
    const ids = [...new Set(jobIds)];
    if (ids.length === 0) return new Set();
    this.assertReachable();
    const states = await withTimeout(
      this.failOnDisconnect(Promise.all(ids.map((id) => this.queue.getJobState(id)))),
      ENQUEUE_TIMEOUT_MS,
      () => new QueueUnavailableError(`queue did not answer within ${ENQUEUE_TIMEOUT_MS} ms`),
    );
    return new Set(ids.filter((_, i) => LIVE_JOB_STATES.has(states[i])));
  }

  private async add(jobs: Array<{ name: string; data: AnyJobData; opts: JobsOptions }>): Promise<void> {
    if (jobs.length === 0) return;
    this.assertReachable();
    // One job (the common case: one batch job per ingest INSERT) goes through add: BullMQ's
    // PostgreSQL backend runs addBulk through temporary tables made and dropped per call, several
    // times the cost of its add_job; on Redis both run the same script (addBulk inside a MULTI).
    // Either way an add under an existing job id is a no-op.
    const added: Promise<unknown> = jobs.length === 1 ? this.queue.add(jobs[0].name, jobs[0].data, jobs[0].opts) : this.queue.addBulk(jobs);
    try {
      await withTimeout(
        this.failOnDisconnect(added),
        ENQUEUE_TIMEOUT_MS,
        () => new QueueUnavailableError(`queue did not accept jobs within ${ENQUEUE_TIMEOUT_MS} ms`),
      );
    } catch (err) {
      if (err instanceof QueueUnavailableError) throw err;
      throw new QueueUnavailableError(`queue unavailable: ${(err as Error).message}`);
    }
  }

  /**
   * Refuses at once while Redis is not connected (other backends: no check). Commands given while
   * Redis is away wait in ioredis's offline queue, which the worker needs to ride out a Redis
   * restart; a producer behind an HTTP request must not wait there (the delivery gets a 503).
   */
  private assertReachable(): void {
    const status = this.redis === 'connecting' ? 'connecting' : this.redis?.status;
    if (status !== undefined && status !== 'ready') throw new QueueUnavailableError(`queue unavailable: redis ${status}`);
  }

  /**
   * Rejects at once if the Redis connection drops while `op` is in flight. ioredis would resend the
   * command after the reconnect (the worker shares these connection options and relies on that), so
   * without this an enqueue caught by a Redis restart waits out the whole timeout, and the ingest
   * batches queued behind it with it. The command may still run after the reconnect: the delivery
   * got a 503 and its retry is a duplicate, which is harmless.
   */
  private failOnDisconnect<T>(op: Promise<T>): Promise<T> {
    if (this.redis === undefined) return op;
    let reject!: (err: Error) => void;
    const dropped = new Promise<never>((_, r) => (reject = r));
    this.inFlight.add(reject);
    return Promise.race([op, dropped]).finally(() => this.inFlight.delete(reject));
  }
}
