import { EventEmitter } from 'node:events';
import { BackendFactory, createPostgresBackend, PostgresConnectionOptions, PostgresQueueBackend } from 'bullmq';
import type { PgConnectionOptions } from '../config/postgres-tls.js';

/**
 * Where BullMQ's PostgreSQL backend waits for new jobs. `pool`: its own LISTEN connection to the
 * pool's URL (BullMQ's behaviour). `direct`: the LISTEN connection goes to this URL instead (a
 * direct connection beside a pooler in transaction mode, which cannot keep a LISTEN). `poll`: no
 * LISTEN at all; the worker looks for jobs every `drainDelay` (queue-backend.ts).
 */
export type JobWakeUp = { kind: 'pool' } | { kind: 'direct'; connection: PgConnectionOptions } | { kind: 'poll' };

/**
 * createPostgresBackend, with what BullMQ offers no option for; this file is the only one that
 * touches its internals, and postgres-backend.adapter.spec.ts fails if they change:
 * - a failed first connection is not remembered: BullMQ memoizes the readiness promise (in
 *   `readyPromise`), so a database that is down at boot would leave the queue broken until a
 *   restart. Here the next operation tries again, as the Redis backend does when Redis comes back.
 * - behind a pooler in transaction mode (`transactionPool`), its pool connects without the `options`
 *   startup parameter, which PgBouncer refuses (BullMQ pins `search_path` to schema `bullmq` with it:
 *   the database role must have it instead, docs/deployment.md); and its LISTEN connection goes
 *   where `wakeUp` says.
 */
export function postgresBackend({
  transactionPool = false,
  wakeUp = { kind: 'pool' },
}: { transactionPool?: boolean; wakeUp?: JobWakeUp } = {}): BackendFactory<PostgresQueueBackend, PostgresConnectionOptions> {
  return (name, opts, factoryOpts) => {
    const backend = createPostgresBackend(name, opts, factoryOpts);
    forgetFailure(backend.connection);
    forgetFailure(backend);
    const connection = backend.connection as unknown as BullmqPostgresInternals;
    if (transactionPool) delete connection.pool.options.options;
    if (wakeUp.kind === 'direct' && connection.listenClientConfig) {
      connection.listenClientConfig = { ...connection.listenClientConfig, ...wakeUp.connection };
    }
    if (wakeUp.kind === 'poll') connection.getListenClient = () => Promise.resolve(silentListenClient());
    return backend;
  };
}

/** The default: BullMQ's own LISTEN connection, a failed first connection forgotten. */
export const retryingPostgresBackend = postgresBackend();

/** What this adapter reaches into (bullmq/dist/esm/postgres/postgres-connection.js). */
interface BullmqPostgresInternals {
  pool: { options: { options?: string } };
  listenClientConfig?: Record<string, unknown>;
  getListenClient(): Promise<unknown>;
}

/**
 * A stand-in for the LISTEN client that never hears a NOTIFY: each wait for a job then lasts until
 * its timeout (the worker's drainDelay), after BullMQ's own check for a waiting job.
 */
function silentListenClient() {
  const client = new EventEmitter() as EventEmitter & { query(): Promise<{ rows: unknown[] }> };
  client.query = () => Promise.resolve({ rows: [] });
  return client;
}

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
