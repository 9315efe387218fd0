// The silent stall BullMQ's users report after a Redis failover (bullmq issues 648, 3088, 4378,
// 4585): the worker's blocking connection stays open but nothing comes back on it, while its other
// connections answer. A TCP proxy in the test carries every connection of the service to the
// machine's Redis and, on request, stops forwarding the connection that sent BZPOPMIN (as a host gone
// without a FIN would) without closing it. The worker must take jobs again, and say so.
import { createServer, Socket, type Server } from 'node:net';
import { Client } from 'pg';
import { createTestDatabase, deliver, RunningService, startService, TEST_REDIS_URL, TestDatabase, waitFor } from './helpers/service.js';

/** A Redis proxy that can silence the blocking connections (those that sent BZPOPMIN). */
async function silencingProxy(upstream: URL) {
  const pairs: Array<{ client: Socket; server: Socket; blocking: boolean; silent: boolean }> = [];
  const server: Server = createServer((client) => {
    const pair = { client, server: new Socket(), blocking: false, silent: false };
    pairs.push(pair);
    pair.server.connect(Number(upstream.port || 6379), upstream.hostname);
    client.on('data', (chunk) => {
      if (!pair.blocking && /bzpopmin/i.test(chunk.toString('latin1'))) pair.blocking = true;
      if (!pair.silent) pair.server.write(chunk);
    });
    pair.server.on('data', (chunk) => {
      if (!pair.silent) client.write(chunk);
    });
    const close = () => {
      client.destroy();
      pair.server.destroy();
    };
    client.on('close', close).on('error', close);
    pair.server.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    /** Silences every blocking connection open now; returns how many. */
    silenceBlocking: () => pairs.filter((p) => p.blocking && !p.client.destroyed && (p.silent = true)).length,
    close: async () => {
      for (const p of pairs) {
        p.client.destroy();
        p.server.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('a worker whose blocking connection goes silent', () => {
  let db: TestDatabase;
  let pg: Client;
  let proxy: Awaited<ReturnType<typeof silencingProxy>>;
  let svc: RunningService | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    proxy = await silencingProxy(new URL(TEST_REDIS_URL));
  });

  afterAll(async () => {
    await svc?.stop();
    await pg?.end();
    await proxy?.close();
    await db?.drop();
  });

  const feedback = (sessionId: string) => ({ event: 'session.feedback_submitted', session_id: sessionId, rating: 4, comment: 'ok' });
  const processedCount = async (prefix: string) =>
    Number(
      (
        await pg.query<{ n: string }>(`SELECT count(*) AS n FROM webhook_events WHERE session_id LIKE $1 AND status = 'processed'`, [
          `${prefix}%`,
        ])
      ).rows[0].n,
    );

  it('is restarted by the watchdog and takes the jobs that waited', async () => {
    svc = await startService({ DATABASE_URL: db.url, REDIS_URL: proxy.url, WORKER_WATCHDOG_MS: '2000' });
    expect((await deliver(svc.baseUrl, feedback('before-stall'))).status).toBe(200);
    await waitFor(async () => (await processedCount('before-stall')) === 1, 15_000);

    expect(proxy.silenceBlocking()).toBeGreaterThanOrEqual(1);
    const silencedAt = Date.now();
    for (let i = 0; i < 5; i++) expect((await deliver(svc.baseUrl, feedback(`stalled-${i}`))).status).toBe(200);
    await waitFor(async () => (await processedCount('stalled-')) === 5, 20_000);
    const recoveredAfterMs = Date.now() - silencedAt;

    const restarts = /webhook_queue_worker_restarts_total (\d+)/.exec(await (await fetch(`${svc.baseUrl}/metrics`)).text());
    expect(Number(restarts?.[1])).toBeGreaterThanOrEqual(1);
    expect(svc.output()).toMatch(/"context":"WorkerWatchdog".*took no job for \d+ s while \d+ waited.*restarting it/);
    // The threshold (2 s), a tick (at most a third of it) and the reconnect: well before BullMQ's own
    // timeout of its blocking call (its drain delay of 5 s plus 1 s) would have reset the connection.
    expect(recoveredAfterMs).toBeLessThan(6_000);
    const ready = await fetch(`${svc.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
  });
});
