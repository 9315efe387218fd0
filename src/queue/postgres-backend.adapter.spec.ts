import { createServer } from 'node:net';
import { postgresBackend, retryingPostgresBackend } from './postgres-backend.adapter.js';

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// Guards the one place that relies on BullMQ internals: if BullMQ stops memoizing readiness in
// `readyPromise` (or renames it), these tests fail and postgres-backend.adapter.ts needs revisiting.
describe('retryingPostgresBackend', () => {
  it('forgets a failed first connection, so the next operation tries again', async () => {
    const port = await closedPort();
    const backend = retryingPostgresBackend(
      'adapter-test',
      { connection: { connectionString: `postgres://postgres@127.0.0.1:${port}/none`, connectionTimeoutMillis: 500, max: 1 } },
      {},
    );
    const memo = backend as unknown as { readyPromise?: Promise<void> };
    const conn = backend.connection as unknown as { readyPromise?: Promise<void> };
    try {
      await expect(backend.waitUntilReady()).rejects.toThrow();
      expect(memo.readyPromise).toBeUndefined();
      expect(conn.readyPromise).toBeUndefined();
      // A second attempt is a new one, not the remembered failure.
      await expect(backend.waitUntilReady()).rejects.toThrow();
    } finally {
      await backend.close(true).catch(() => undefined);
    }
  });

  it('relies on BullMQ memoizing readiness in readyPromise', async () => {
    const { createPostgresBackend } = await import('bullmq');
    const port = await closedPort();
    const plain = createPostgresBackend(
      'adapter-test-plain',
      { connection: { connectionString: `postgres://postgres@127.0.0.1:${port}/none`, connectionTimeoutMillis: 500, max: 1 } },
      {},
    );
    try {
      await expect(plain.waitUntilReady()).rejects.toThrow();
      // Unwrapped, the failure is remembered: that is what the adapter undoes.
      expect((plain as unknown as { readyPromise?: Promise<void> }).readyPromise).toBeInstanceOf(Promise);
    } finally {
      await plain.close(true).catch(() => undefined);
    }
  });

  // Behind a pooler in transaction mode: no `options` startup parameter on the pool, the LISTEN
  // connection elsewhere or none. If BullMQ renames these internals, these fail.
  it('strips the options startup parameter, and sends the LISTEN connection to the direct URL', async () => {
    const direct = { connectionString: 'postgres://postgres@127.0.0.1:1/direct', ssl: { rejectUnauthorized: false } };
    const backend = postgresBackend({ transactionPool: true, wakeUp: { kind: 'direct', connection: direct } })(
      'adapter-test-tx',
      { connection: { connectionString: 'postgres://postgres@127.0.0.1:1/pooled', max: 1 } },
      {},
    );
    const internals = backend.connection as unknown as {
      pool: { options: Record<string, unknown> };
      listenClientConfig: Record<string, unknown>;
    };
    try {
      expect(internals.pool.options.connectionString).toBe('postgres://postgres@127.0.0.1:1/pooled');
      expect(internals.pool.options).not.toHaveProperty('options');
      expect(internals.listenClientConfig).toMatchObject({ ...direct, options: '-c search_path="bullmq"' });
    } finally {
      await backend.close(true).catch(() => undefined);
    }
  });

  it('polls: the LISTEN client never connects and never hears a NOTIFY', async () => {
    const backend = postgresBackend({ transactionPool: true, wakeUp: { kind: 'poll' } })(
      'adapter-test-poll',
      { connection: { connectionString: 'postgres://postgres@127.0.0.1:1/pooled', max: 1 } },
      {},
    );
    try {
      const client = (await backend.connection.getListenClient()) as unknown as {
        query(): Promise<unknown>;
        listenerCount(e: string): number;
      };
      await expect(client.query()).resolves.toEqual({ rows: [] });
    } finally {
      await backend.close(true).catch(() => undefined);
    }
  });
});
