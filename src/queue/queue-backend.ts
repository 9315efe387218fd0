import { BullModule } from '@nestjs/bullmq';
import {
  BackendFactory,
  PostgresConnectionOptions,
  PostgresQueueBackend,
  QueueOptions,
  setDefaultBackendFactory,
  Worker,
  WorkerOptions,
} from 'bullmq';
import { AppConfig, pgConnection } from '../config/configuration.js';
import { JobWakeUp, postgresBackend } from './postgres-backend.adapter.js';
import { webhookJobOptions } from './queue.constants.js';
import { topologyConnection } from './redis-options.js';

// The embedded database (PGlite) never delivers NOTIFY to BullMQ's LISTEN connection, nor does a
// pooler in transaction mode without DATABASE_DIRECT_URL, so workers find new jobs by polling: a
// wait ends after this many seconds and the worker looks again (an idle queue's job waits 0.1 s on
// average for it: docs/deployment.md). On a PostgreSQL server NOTIFY wakes them at once and
// BullMQ's default (5 s) only bounds idle polls.
export const POLL_SECONDS = 0.2;
// Each Queue and Worker opens its own pool; the ingest path batches, so a few connections do.
const POSTGRES_POOL_MAX = 8;
// Below WebhookQueue's 3 s enqueue timeout, so a dead server surfaces as an error, not a hang.
const POSTGRES_CONNECT_TIMEOUT_MS = 2000;

/**
 * Selects the queue backend for the whole process and returns the BullMQ root options.
 * @nestjs/bullmq constructs `new Queue(name, opts)` and `new Worker(...)` without a backend, so the
 * backend is chosen process-wide (setDefaultBackendFactory) before those are built; and it gives a
 * worker only the options of the @Processor decorator, which cannot read configuration, so the
 * worker class it constructs (BullModule.workerClass) carries the configured ones.
 */
export function queueRootOptions(config: AppConfig): QueueOptions<unknown> {
  const queue = config.queue;
  const wakeUp = jobWakeUp(config);
  if (queue.backend === 'postgres') {
    const factory = postgresBackend({ transactionPool: config.database.poolMode === 'transaction', wakeUp });
    setDefaultBackendFactory(factory as BackendFactory<PostgresQueueBackend, unknown>);
  } else setDefaultBackendFactory();
  BullModule.workerClass = configuredWorker({
    concurrency: queue.concurrency,
    lockDuration: queue.lockDurationMs,
    lockRenewTime: queue.lockDurationMs / 2,
    stalledInterval: queue.stalledIntervalMs,
    ...(queue.backend === 'postgres' && (wakeUp.kind === 'poll' || config.database.embedded) ? { drainDelay: POLL_SECONDS } : {}),
  });
  return {
    connection: queueConnection(config),
    prefix: queue.prefix,
    defaultJobOptions: webhookJobOptions(queue.attempts, queue.backoffMs, queue.backend),
  };
}

/**
 * How the PostgreSQL backend's workers learn of new jobs: NOTIFY on their own LISTEN connection,
 * which goes to DATABASE_DIRECT_URL when set; polling where no connection can keep a LISTEN (the
 * embedded database, a pooler in transaction mode without a direct URL).
 */
export function jobWakeUp(config: AppConfig): JobWakeUp {
  const database = config.database;
  // PGlite's LISTEN connection is kept as it was (it never hears a NOTIFY; the drainDelay polls).
  if (database.embedded) return { kind: 'pool' };
  if (database.direct)
    return { kind: 'direct', connection: { connectionString: database.direct.connectionString, ssl: database.direct.ssl } };
  return database.poolMode === 'transaction' ? { kind: 'poll' } : { kind: 'pool' };
}

/**
 * Connection options for the selected backend, shared by the producer and the worker. (The producer
 * refuses at once while Redis is away: see WebhookQueue.)
 */
export function queueConnection(config: AppConfig): unknown {
  const queue = config.queue;
  if (queue.backend === 'postgres') {
    const options: PostgresConnectionOptions = {
      ...pgConnection(config.database),
      max: POSTGRES_POOL_MAX,
      connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
      // BullMQ keeps its tables and functions in schema `bullmq` of the same database and creates
      // or upgrades them (under an advisory lock) when the first queue connects.
      migrate: true,
    };
    return options;
  }
  return topologyConnection(queue.redis!);
}

/** A Worker class whose instances get `defaults` under the options they are constructed with. */
function configuredWorker(defaults: Partial<WorkerOptions>): typeof Worker {
  return class ConfiguredWorker extends Worker {
    constructor(name: string, processor: ConstructorParameters<typeof Worker>[1], opts: WorkerOptions) {
      super(name, processor, { ...defaults, ...opts });
    }
  };
}
