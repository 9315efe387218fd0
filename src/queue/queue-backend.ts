import { BullModule } from '@nestjs/bullmq';
import {
  BackendFactory,
  createPostgresBackend,
  PostgresConnectionOptions,
  PostgresQueueBackend,
  QueueOptions,
  setDefaultBackendFactory,
  Worker,
  WorkerOptions,
} from 'bullmq';
import { AppConfig } from '../config/configuration.js';
import { webhookJobOptions } from './queue.constants.js';
import { redisConnection } from './redis-options.js';

// The embedded database (PGlite) never delivers NOTIFY to BullMQ's LISTEN connection, so workers
// find new jobs by polling: a wait ends after this many seconds and the worker looks again.
// On a PostgreSQL server NOTIFY wakes them at once and BullMQ's default (5 s) only bounds idle polls.
const EMBEDDED_POLL_SECONDS = 0.2;
// Each Queue and Worker opens its own pool; the ingest path batches, so a few connections do.
const POSTGRES_POOL_MAX = 8;
// Below WebhookQueueService's 3 s enqueue timeout, so a dead server surfaces as an error, not a hang.
const POSTGRES_CONNECT_TIMEOUT_MS = 2000;

/**
 * Selects the queue backend for the whole process and returns the BullMQ root options.
 * @nestjs/bullmq constructs `new Queue(name, opts)` and `new Worker(...)` without a backend, so the
 * backend is chosen process-wide (setDefaultBackendFactory) before those are built.
 */
export function queueRootOptions(config: AppConfig): QueueOptions<unknown> {
  const queue = config.queue;
  if (queue.backend === 'postgres') {
    setDefaultBackendFactory(retryingPostgresBackend as BackendFactory<PostgresQueueBackend, unknown>);
    if (config.database.embedded) BullModule.workerClass = pollingWorker(EMBEDDED_POLL_SECONDS);
  } else {
    setDefaultBackendFactory();
  }
  return {
    connection: queueConnection(config),
    prefix: queue.prefix,
    defaultJobOptions: webhookJobOptions(queue.attempts, queue.backoffMs),
  };
}

/**
 * Connection options for the selected backend, shared by the producer and the worker. (The producer
 * refuses at once while Redis is away: see WebhookQueueService.)
 */
export function queueConnection(config: AppConfig): unknown {
  const queue = config.queue;
  if (queue.backend === 'postgres') {
    const options: PostgresConnectionOptions = {
      connectionString: config.database.url,
      max: POSTGRES_POOL_MAX,
      connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
      // BullMQ keeps its tables and functions in schema `bullmq` of the same database and creates
      // or upgrades them (under an advisory lock) when the first queue connects.
      migrate: true,
    };
    return options;
  }
  return redisConnection(queue.redisUrl!);
}

/**
 * createPostgresBackend, except that a failed first connection is not remembered: BullMQ memoizes
 * the readiness promise, so a database that is down at boot would leave the queue broken until a
 * restart. Here the next operation tries again, as the Redis backend does when Redis comes back.
 */
export const retryingPostgresBackend: BackendFactory<PostgresQueueBackend, PostgresConnectionOptions> = (name, opts, factoryOpts) => {
  const backend = createPostgresBackend(name, opts, factoryOpts);
  forgetFailure(backend.connection);
  forgetFailure(backend);
  return backend;
};

/** Wraps a memoizing `waitUntilReady` so that a rejected attempt is forgotten (its `readyPromise` cleared). */
function forgetFailure(target: object): void {
  const t = target as { waitUntilReady(): Promise<void>; readyPromise?: Promise<void> };
  const original = t.waitUntilReady.bind(target);
  t.waitUntilReady = async () => {
    try {
      await original();
    } catch (err) {
      t.readyPromise = undefined;
      throw err;
    }
  };
}

/** A Worker whose idle wait ends after `seconds` unless told otherwise (see EMBEDDED_POLL_SECONDS). */
function pollingWorker(seconds: number): typeof Worker {
  return class PollingWorker extends Worker {
    constructor(name: string, processor: ConstructorParameters<typeof Worker>[1], opts: WorkerOptions) {
      // @nestjs/bullmq passes no backend factory: the process-wide default applies.
      super(name, processor, { drainDelay: seconds, ...opts });
    }
  } as typeof Worker;
}
