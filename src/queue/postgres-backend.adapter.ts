import { BackendFactory, createPostgresBackend, PostgresConnectionOptions, PostgresQueueBackend } from 'bullmq';

/**
 * createPostgresBackend, except that a failed first connection is not remembered: BullMQ memoizes
 * the readiness promise (in `readyPromise`), so a database that is down at boot would leave the
 * queue broken until a restart. Here the next operation tries again, as the Redis backend does
 * when Redis comes back. BullMQ offers no option for this; this file is the only one that touches
 * its internals, and postgres-backend.adapter.spec.ts fails if they change.
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
