// What a bench run stands on: the snapshot of dist/ it runs, the signer, PostgreSQL (a private
// cluster configured as production runs it, or the machine's shared server), the bench database, and
// the service processes of a topology.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { imageEnv } from '../scripts/dockerfile.mjs';
import { createDatabase, dropKeys, privatePostgres, sleep, startService, waitFor } from '../scripts/local-services.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const SECRET = 'bench-secret-0123456789abcdef0123456789';
export const WEBHOOK_PATH = '/webhooks/ai-interview';
// The service runs with the image's V8 flags (its heap ceiling); `--env NODE_OPTIONS=` runs it without.
export const IMAGE_NODE_OPTIONS = imageEnv(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).NODE_OPTIONS ?? '';

/**
 * PostgreSQL as production runs it, not as this machine's test server is (autovacuum and
 * fsync off there): durable commits, autovacuum with its defaults, a production-sized buffer cache,
 * and the statistics an operator would look at.
 */
export const PRODUCTION_PG_SETTINGS = {
  autovacuum: 'on',
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  shared_buffers: '256MB',
  max_connections: 100,
  wal_compression: 'on',
  checkpoint_timeout: '5min',
  max_wal_size: '2GB',
  shared_preload_libraries: 'pg_stat_statements',
  track_io_timing: 'on',
};
const SHOWN_SETTINGS = Object.keys(PRODUCTION_PG_SETTINGS);

export { sleep, waitFor };

/** A copy of dist/ (and package.json) to run, so that a rebuild in the work tree cannot pull the service out from under a run. */
export function snapshotDist(distDir = join(ROOT, 'dist')) {
  const main = join(distDir, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first (npm run bench does)`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  cpSync(distDir, join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `sign(body)`: the signature headers, made by the service's own signDelivery (of the snapshot under test). */
export async function signer(snapshotDir, secret = SECRET) {
  const { signDelivery } = await import(pathToFileURL(join(snapshotDir, 'dist', 'webhooks', 'webhook-signature.js')).href);
  return (body) => signDelivery(body, secret);
}

/**
 * The PostgreSQL server of the run: `--pg private` (default) starts a cluster of its own with
 * PRODUCTION_PG_SETTINGS; `--pg shared` uses the machine's server (TEST_PG_ADMIN_URL).
 */
export async function benchPostgres(opts) {
  if (opts.pg === 'shared') {
    return { kind: 'shared', adminUrl: PG_ADMIN_URL, pid: () => undefined, dispose: async () => undefined };
  }
  const server = await privatePostgres({ settings: PRODUCTION_PG_SETTINGS });
  return {
    kind: 'private',
    adminUrl: server.url,
    socketDir: server.dir,
    dataDir: server.dataDir,
    pid: () => server.pid(),
    dispose: async () => {
      await server.dispose({ keepData: opts.keepDb });
      if (opts.keepDb) console.log(`kept the private cluster (stopped): pg_ctl -D ${server.dataDir} -l ${join(server.dir, 'log')} start`);
    },
  };
}

/** A fresh database for the run, with pg_stat_statements where the server preloads it; its server settings (SHOW). */
export async function benchDatabase(server) {
  const db = await createDatabase(server.adminUrl, { prefix: 'wh_bench' });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const settings = { server_version: (await client.query('SHOW server_version')).rows[0].server_version };
    for (const name of SHOWN_SETTINGS) settings[name] = (await client.query(`SHOW ${name}`)).rows[0][name];
    if (settings.shared_preload_libraries.includes('pg_stat_statements'))
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    return { ...db, settings };
  } finally {
    await client.end();
  }
}

/** One line: which PostgreSQL and Redis the run used, and the PostgreSQL settings in effect. */
export function serversLine(server, settings) {
  const { server_version: version, ...rest } = settings;
  const where =
    server.kind === 'private'
      ? 'a private cluster started by the bench'
      : `the machine's shared server (${new URL(server.adminUrl).host}; its CPU figures include others' work)`;
  return [
    `PostgreSQL ${version.split(' ')[0]}, ${where}: ${Object.entries(rest)
      .map(([k, v]) => `${k}=${v === '' ? "''" : v}`)
      .join(', ')}`,
    `Redis: the machine's shared redis-server (${new URL(REDIS_URL).host})`,
  ].join(' · ');
}

/** The environment of the service processes, as the image runs them. */
export function serviceEnv(opts, databaseUrl, queuePrefix) {
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    WEBHOOK_SECRET: SECRET,
    QUEUE_PREFIX: queuePrefix,
    QUEUE_BACKEND: opts.queue,
    NODE_OPTIONS: IMAGE_NODE_OPTIONS,
    ...opts.tracingEnv,
    ...opts.env,
  };
}

/**
 * --tracing: a local OTLP/HTTP receiver in the bench process that takes every export (200 and an empty
 * response, as a collector answers) and counts requests and bytes without decoding them; and the
 * standard OTEL_* settings that point the service at it with a parent-based ratio sampler.
 */
export async function otlpSink(ratio) {
  let requests = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (chunk) => (bytes += chunk.length));
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.address().port}`,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: String(ratio),
    },
    summary: () =>
      `tracing on: sampler parentbased_traceidratio ${ratio}, ${requests} OTLP exports (${(bytes / 1024).toFixed(0)} kB) to a local receiver`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * Starts the topology's processes from the snapshot: `service` (APP_ROLE as given, default all), or
 * `api` then `worker`. The first one takes the deliveries. `output()` is what they printed.
 */
export async function startTopology(opts, snapshotDir, env, profDir) {
  const roles = opts.topology === 'split' ? ['api', 'worker'] : ['service'];
  const procs = [];
  try {
    for (const role of roles) {
      // A folder per role, with Node's own file names (pid and thread id): a fixed name would let a
      // worker thread's profile (tracing's module loader hooks run in one) overwrite the main thread's.
      const nodeArgs = opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, role)}`] : [];
      const roleEnv = role === 'service' ? env : { ...env, APP_ROLE: role };
      procs.push({ role, ...(await startService({ cwd: snapshotDir, env: roleEnv, nodeArgs, timeoutMs: 30_000 })) });
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    throw err;
  }
  return {
    procs,
    url: procs[0].baseUrl,
    pids: Object.fromEntries(procs.map((p) => [p.role, p.child.pid])),
    output: () => procs.map((p) => (procs.length > 1 ? `--- ${p.role}\n${p.output()}` : p.output())).join('\n'),
    // SIGINT lets --cpu-prof write its profile (Nest re-raises the signal after closing).
    stop: () => Promise.all(procs.map((p) => p.stop(opts.cpuProf ? 'SIGINT' : 'SIGTERM', 20_000))),
  };
}

/** Waits until the service has migrated the bench database (the feedback table exists). */
export async function waitForMigrations(client, output) {
  const migrated = await waitFor(
    async () => (await client.query(`SELECT to_regclass('public.feedback') IS NOT NULL AS ok`)).rows[0].ok,
    30_000,
    100,
  );
  if (!migrated) throw new Error(`migrations did not finish:\n${output()}`);
}

/** Removes the run's queue keys from the shared Redis (the service is stopped by then). */
export const dropQueueKeys = (prefix) => dropKeys(REDIS_URL, `${prefix}:*`);
