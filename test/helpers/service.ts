import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { createDatabase, freePort, startService as startProcess } from '../../scripts/local-services.mjs';
import { postgresTls } from '../../src/config/postgres-tls.js';
import { signDelivery } from '../../src/webhooks/webhook-signature.js';

export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
// 32+ characters: the reliability suite runs with NODE_ENV=production, which refuses shorter ones.
export const TEST_SECRET = 'test-secret-0123456789abcdef0123456789';
export const MAIN_JS = join(process.cwd(), 'dist', 'main.js');
/** The timestamp of the build's last migration (dist/database/migrations/<timestamp>-<name>.js). */
const LAST_MIGRATION = Math.max(
  ...readdirSync(join(process.cwd(), 'dist', 'database', 'migrations')).map((f) => Number(/^(\d+)-.*\.js$/.exec(f)?.[1] ?? 0)),
);

export interface TestDatabase {
  name: string;
  url: string;
  query<T = Record<string, any>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/** A fresh database per test file, so runs never see each other, with a connection to query it. */
export async function createTestDatabase(adminUrl = PG_ADMIN_URL): Promise<TestDatabase> {
  const db = await createDatabase(adminUrl, { prefix: 'wh_test' });
  const client = new Client({ connectionString: db.url });
  await client.connect();
  return {
    name: db.name,
    url: db.url,
    query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
    drop: async () => {
      await client.end().catch(() => undefined);
      await db.drop();
    },
  };
}

export { freePort };

/**
 * A fresh queue prefix for a service a test starts, carrying this run's id so that the global
 * teardown removes its keys from the shared Redis (and only this run's).
 */
export function queuePrefix(kind = 'test'): string {
  return `tr${process.env.TEST_RUN_ID ?? 'local'}-${kind}-${randomBytes(4).toString('hex')}`;
}

/** A port nothing listens on, for "dependency down" cases. */
export const closedPort = freePort;

export interface RunningService {
  baseUrl: string;
  port: number;
  env: Record<string, string>;
  process: ChildProcess;
  /** Everything the service printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  /** Wait until the database migrations are applied (default: when DATABASE_URL is set). */
  waitForMigrations?: boolean;
  timeoutMs?: number;
}

/**
 * Starts the built service (`node dist/main.js`) as production runs it, with test defaults under
 * the given environment, and waits until it answers HTTP.
 */
export async function startService(env: Record<string, string | undefined>, opts: StartOptions = {}): Promise<RunningService> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const fullEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    REDIS_URL: TEST_REDIS_URL,
    WEBHOOK_SECRET: TEST_SECRET,
    // Each service gets its own queue namespace in the shared Redis.
    QUEUE_PREFIX: queuePrefix(),
    JOB_BACKOFF_MS: '100',
    ...Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)),
  };
  const port = Number(fullEnv.PORT ?? (await freePort()));
  fullEnv.PORT = String(port);
  const svc = await startProcess({ entry: MAIN_JS, env: fullEnv, port, timeoutMs, readyPath: '/__ping' });
  if (opts.waitForMigrations ?? fullEnv.DATABASE_URL !== undefined) {
    // TLS parameters read as the service reads them (pg alone reads verify-ca as verify-full).
    const client = new Client(postgresTls(fullEnv.DATABASE_URL, 'DATABASE_URL'));
    await client.connect();
    try {
      // The build's last migration recorded (the later ones run after the first tables exist).
      await waitFor(async () => {
        if (!(await client.query(`SELECT to_regclass('public.migrations') IS NOT NULL AS ok`)).rows[0].ok) return false;
        return Number((await client.query('SELECT max(timestamp) AS ts FROM migrations')).rows[0].ts) >= LAST_MIGRATION;
      }, deadline - Date.now());
    } finally {
      await client.end();
    }
  }
  return { baseUrl: svc.baseUrl, port, env: fullEnv, process: svc.child, output: svc.output, exited: svc.exited, stop: svc.stop };
}

export interface Delivered {
  status: number;
  body: any;
}

/** Posts a body signed as the platform would (headers may override or drop the signature). */
export async function deliver(
  baseUrl: string,
  body: unknown,
  opts: { secret?: string; scheme?: 'signature' | 'timestamped'; headers?: Record<string, string>; raw?: string; timestamp?: number } = {},
): Promise<Delivered> {
  const raw = opts.raw ?? JSON.stringify(body);
  const signature = signDelivery(raw, opts.secret ?? TEST_SECRET, opts.scheme ?? 'signature', opts.timestamp);
  const res = await fetch(`${baseUrl}/webhooks/ai-interview`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signature, ...opts.headers },
    body: raw,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

/**
 * Waits until the service's queue (Redis backend) has nothing waiting, delayed or running, twice in
 * a row: after that, nothing more happens to the events it was given. The condition to wait for
 * before asserting that something did NOT happen (no retry, no second post).
 */
export async function queueIdle(t: RunningService, timeoutMs = 15_000): Promise<void> {
  const queue = new Queue('webhooks', { connection: { url: t.env.REDIS_URL ?? TEST_REDIS_URL }, prefix: t.env.QUEUE_PREFIX });
  try {
    let quietChecks = 0;
    let counts: Record<string, number> = {};
    await waitFor(
      async () => {
        counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        quietChecks = Object.values(counts).every((n) => n === 0) ? quietChecks + 1 : 0;
        return quietChecks >= 2;
      },
      timeoutMs,
      150,
    ).catch(async (err: Error) => {
      const busy = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized'], 0, 4);
      const jobs = busy.map((j) => `${j.id} ${j.name} attempts ${j.attemptsMade} delay ${j.delay} ${JSON.stringify(j.data).slice(0, 200)}`);
      // What the service logged about those events (at its LOG_LEVEL).
      const ids = busy.map((j) => (j.data as { eventId?: string }).eventId ?? String(j.id));
      const logged = t
        .output()
        .split('\n')
        .filter((line) => ids.some((id) => line.includes(id)));
      throw new Error(`queue not idle: ${JSON.stringify(counts)} (${err.message})\n${[...jobs, ...logged.slice(-10)].join('\n')}`);
    });
  } finally {
    await queue.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}

/**
 * Makes a burst share an INSERT and a batch job without leaving it to timing: holds the inbox with a
 * lock; `release()` lets it go once an INSERT of the api waits on the lock, and half a second more,
 * so that the deliveries sent meanwhile have piled up behind it (the api runs at most two INSERTs at
 * a time: the rest share the next). Left to timing, a loaded machine spreads a burst's arrivals so
 * that each delivery may be recorded alone.
 */
export async function holdInbox(databaseUrl: string): Promise<{ release(): Promise<void> }> {
  const gate = new Client({ connectionString: databaseUrl });
  await gate.connect();
  await gate.query('BEGIN');
  await gate.query('LOCK TABLE webhook_events IN EXCLUSIVE MODE');
  return {
    async release() {
      try {
        await waitFor(async () => {
          // Activity statistics stay as first read within a transaction unless the snapshot is cleared.
          await gate.query('SELECT pg_stat_clear_snapshot()');
          const { rows } = await gate.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO webhook_events%'`,
          );
          return rows[0].n >= 1;
        }, 15_000);
        await sleep(500);
      } finally {
        await gate.query('COMMIT');
        await gate.end();
      }
    },
  };
}
