// `npm run bench`: the service against the platform's example handler (the burst), or the service
// alone at a steady rate for minutes (the soak). docs/benchmarks-howto.md has examples.
//
//   npm run bench -- [--connections 50] [--duration 10] [--warmup 3] [--skip-baseline] [--floor]
//   npm run bench -- --soak [--rate 1000] [--minutes 10] [--connections 20]
//     either with [--queue redis|postgres] [--topology single|split] [--pg private|shared]
//                 [--env KEY=VALUE ...] [--cpu-prof] [--keep-db] [--no-write] [--dist DIR] [--pg-socket]
//                 [--drain-timeout SECONDS] [--tracing RATIO]
//
// --floor: the durable floor (bench/floor.mjs) under the same load after the example: the example's
// handler plus only what durability needs (a committed INSERT per loop turn, a BullMQ job per INSERT,
// and, unless APP_ROLE=api, a worker that handles a job in one statement).
// --topology single (default): one process, APP_ROLE=all, as `npm start` runs it; split: an
// APP_ROLE=api and an APP_ROLE=worker process, as docker-compose.yml and deploy/k8s run them.
// --pg private (default): a PostgreSQL cluster of the bench's own, configured as production runs it
// (bench/setup.mjs, PRODUCTION_PG_SETTINGS; the settings in effect are printed); --pg shared: the
// machine's server (TEST_PG_ADMIN_URL), tuned for tests (autovacuum off). The queue's Redis is the
// machine's (TEST_REDIS_URL), under a fresh QUEUE_PREFIX.
// The service runs with NODE_ENV=production and the Dockerfile's NODE_OPTIONS (its V8 heap ceiling),
// as the image runs it; `--env NODE_OPTIONS=` runs it without. It runs from a snapshot of dist/ (the
// npm script builds first), on a fresh database, and the deliveries are signed by its own signDelivery.
// --tracing RATIO: tracing on, OTEL_* pointing at a local OTLP receiver (bench/setup.mjs otlpSink)
// with a parent-based ratio sampler; without it no OTEL_* is set and tracing is off.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { runBaseline, runFloor, runServiceBurst } from './burst.mjs';
import { burstReport, f0, f1, runKey, soakReport, soakTotals, writeResults } from './report.mjs';
import {
  benchDatabase,
  benchPostgres,
  dropQueueKeys,
  otlpSink,
  serversLine,
  serviceEnv,
  signer,
  snapshotDist,
  startTopology,
  waitForMigrations,
} from './setup.mjs';
import { runSoak, soakTargets } from './soak.mjs';

function options(argv) {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string', short: 'c' },
      duration: { type: 'string', short: 'd' },
      warmup: { type: 'string', short: 'w' },
      'skip-baseline': { type: 'boolean', default: false },
      floor: { type: 'boolean', default: false },
      soak: { type: 'boolean', default: false },
      rate: { type: 'string' },
      minutes: { type: 'string' },
      queue: { type: 'string', default: 'redis' },
      topology: { type: 'string', default: 'single' },
      pg: { type: 'string', default: 'private' },
      'pg-socket': { type: 'boolean', default: false },
      env: { type: 'string', multiple: true, default: [] },
      'cpu-prof': { type: 'boolean', default: false },
      'keep-db': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      dist: { type: 'string' },
      'drain-timeout': { type: 'string', default: '120' },
      tracing: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    const text = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    console.log(text.slice(0, text.indexOf('\nimport ')).replace(/^\/\/ ?/gm, ''));
    process.exit(0);
  }
  const number = (name, fallback, { min = 0, integer = false } = {}) => {
    const n = v[name] === undefined ? fallback : Number(v[name]);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
      throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}`);
    return n;
  };
  const only = (mode, names) => {
    for (const name of names) if (v[name] !== undefined && v[name] !== false) throw new Error(`--${name} is for the ${mode} only`);
  };
  if (v.soak) only('burst', ['duration', 'warmup', 'skip-baseline', 'floor']);
  else only('soak (--soak)', ['rate', 'minutes']);
  const env = {};
  for (const pair of v.env) {
    const [k, ...rest] = pair.split('=');
    env[k] = rest.join('=');
  }
  const o = {
    soak: v.soak,
    connections: number('connections', v.soak ? 20 : 50, { min: 1, integer: true }),
    duration: number('duration', 10),
    warmup: number('warmup', 3),
    rate: number('rate', 1000, { min: 1 }),
    minutes: number('minutes', 10, { min: 1, integer: true }),
    baseline: !v.soak && !v['skip-baseline'],
    floor: v.floor,
    queue: v.queue,
    topology: v.topology,
    pg: v.pg,
    pgSocket: v['pg-socket'],
    env,
    cpuProf: v['cpu-prof'],
    keepDb: v['keep-db'],
    write: !v['no-write'],
    dist: v.dist,
    drainTimeout: number('drain-timeout', 120),
    tracing: v.tracing === undefined ? undefined : number('tracing', 0),
  };
  if (o.tracing > 1) throw new Error('--tracing must be a ratio between 0 and 1');
  if (!['redis', 'postgres'].includes(o.queue)) throw new Error('--queue must be redis or postgres');
  if (!['single', 'split'].includes(o.topology)) throw new Error('--topology must be single or split');
  if (!['private', 'shared'].includes(o.pg)) throw new Error('--pg must be private or shared');
  if (o.topology === 'split' && o.env.APP_ROLE) throw new Error('--topology split sets APP_ROLE itself');
  return o;
}

/** The service under load, on its own database and queue prefix; `body(svc, client)` does the measuring. */
async function withService(opts, snapshot, server, body) {
  const db = await benchDatabase(server);
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const profDir = join(tmpdir(), 'bench-profiles');
  if (opts.cpuProf) mkdirSync(profDir, { recursive: true });
  let svc;
  const client = new pg.Client({ connectionString: db.url });
  try {
    // --pg-socket: the service reaches the private cluster over its Unix socket instead of TCP
    // loopback, whose receiving side the kernel charges to the sender on one machine.
    const serviceDbUrl = opts.pgSocket && server.socketDir ? `${db.url}?host=${encodeURIComponent(server.socketDir)}` : db.url;
    svc = await startTopology(opts, snapshot.dir, serviceEnv(opts, serviceDbUrl, prefix), profDir);
    await client.connect();
    await waitForMigrations(client, svc.output);
    const result = await body(svc, client, db.settings);
    result.output = svc.output();
    return result;
  } finally {
    await client.end().catch(() => undefined);
    await svc?.stop();
    if (!opts.keepDb) await db.drop().catch((e) => console.error(`could not drop ${db.name}: ${e.message}`));
    else console.log(`kept database ${db.name} and queue prefix ${prefix}`);
    if (!opts.keepDb && opts.queue === 'redis') await dropQueueKeys(prefix);
  }
}

function printWarnings(output) {
  const warnings = output.split('\n').filter((l) => /"level":"(warn|error|fatal)"|WARN|ERROR/.test(l));
  if (warnings.length) console.log(`  service warnings (last 10):\n${warnings.slice(-10).join('\n')}`);
}

async function burst(opts, snapshot, server, sign, machine) {
  let base;
  if (opts.baseline) {
    console.log('running the baseline (bench/baseline.mjs) ...');
    base = await runBaseline(opts, sign, server.pid());
    console.log(`  baseline: ${f0(base.rps)} req/s, p50 ${base.p50} ms, p99 ${base.p99} ms, max ${base.max} ms, non-2xx ${base.non2xx}`);
  }
  let floor;
  if (opts.floor) {
    console.log('running the durable floor (bench/floor.mjs) ...');
    floor = await runFloor(opts, sign, server);
    console.log(
      `  floor:    ${f0(floor.rps)} req/s, p50 ${floor.p50} ms, p99 ${floor.p99} ms, max ${floor.max} ms, non-2xx ${floor.non2xx}`,
    );
  }
  console.log(
    `running the service (dist/main.js, NODE_ENV=production${opts.topology === 'split' ? ', an api and a worker process' : ''}) ...`,
  );
  let servers;
  const svc = await withService(opts, snapshot, server, async (s, client, settings) => {
    servers = serversLine(server, settings);
    console.log(`  ${servers}`);
    return runServiceBurst(opts, s, client, sign, server.pid());
  });
  console.log(`  service:  ${f0(svc.rps)} req/s, p50 ${svc.p50} ms, p99 ${svc.p99} ms, max ${svc.max} ms, non-2xx ${svc.non2xx}`);
  for (const [name, r] of [
    ['baseline', base],
    ['floor', floor],
    ['service', svc],
  ]) {
    if (!r) continue;
    console.log(
      `  CPU during the ${name}'s measured load (seconds, µs per request): ${Object.entries(r.cpu)
        .map(([k, v]) => `${k} ${f1(v.seconds)} s / ${f0(v.usPerRequest)} µs`)
        .join(', ')}`,
    );
  }
  if (opts.cpuProf) console.log(`  CPU profiles of the service written under ${join(tmpdir(), 'bench-profiles')}/<role>`);
  printStatements('  PostgreSQL time by statement (pg_stat_statements, whole run)', svc.statements);
  if (svc.redisCommands) {
    console.log('  Redis INFO commandstats during the measured run (calls, usec):');
    for (const s of svc.redisCommands) console.log(`    ${s.cmd.padEnd(14)} ${String(s.calls).padStart(8)} ${String(s.usec).padStart(10)}`);
  }
  if (opts.tracingSummary) console.log(`  ${opts.tracingSummary()}`);
  printWarnings(svc.output);
  return burstReport(opts, base, svc, machine, servers, floor);
}

/** pg_stat_statements rows (calls, total and mean time, query) under `title`; nothing when there are none. */
function printStatements(title, statements) {
  if (!statements?.length) return;
  console.log(`${title}: calls, total s, mean ms`);
  for (const s of statements)
    console.log(`    ${f0(s.calls).padStart(10)} ${f1(s.total_ms / 1000).padStart(8)} ${s.mean_ms.toFixed(3).padStart(8)}  ${s.query}`);
}

async function soak(opts, snapshot, server, sign, machine) {
  const split = opts.topology === 'split' ? ', an api and a worker process' : '';
  console.log(
    `soak: ${f0(opts.rate)} deliveries/s for ${opts.minutes} min on ${opts.connections} connections, queue ${opts.queue}${split}`,
  );
  let servers;
  const r = await withService(opts, snapshot, server, async (svc, client, settings) => {
    servers = serversLine(server, settings);
    console.log(`  ${servers}\n`);
    return runSoak(opts, svc, client, sign, server.pid(), (line) => console.log(line));
  });
  console.log(`\n${soakTotals(opts, r).join('\n')}`);
  printStatements('- PostgreSQL time by statement (pg_stat_statements, top 5)', r.statements);
  if (opts.tracingSummary) console.log(`- ${opts.tracingSummary()}`);
  printWarnings(r.output);
  const targets = soakTargets(r);
  console.log(
    `\nsoak targets:\n${targets.map(([n, g, m, ok]) => `  ${ok === undefined ? 'n/a' : ok ? 'met' : 'NOT MET'}  ${n} ${g}: ${m}`).join('\n')}`,
  );
  return soakReport(opts, r, machine, servers, targets);
}

async function main() {
  const opts = options(process.argv.slice(2));
  const machine = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model?.trim() ?? 'unknown',
    node: process.version,
  };
  if (!opts.soak)
    console.log(
      `bench: ${opts.connections} connections, ${opts.warmup} s warm-up + ${opts.duration} s, queue ${opts.queue}, ${machine.cpus} CPUs, Node ${machine.node}`,
    );
  const snapshot = snapshotDist(opts.dist);
  let server;
  const sink = opts.tracing === undefined ? undefined : await otlpSink(opts.tracing);
  opts.tracingEnv = sink?.env;
  opts.tracingSummary = sink?.summary;
  try {
    const sign = await signer(snapshot.dir);
    if (opts.pg === 'private') console.log('starting a private PostgreSQL cluster ...');
    server = await benchPostgres(opts);
    const section = await (opts.soak ? soak : burst)(opts, snapshot, server, sign, machine);
    if (!opts.soak) console.log(`\n${section.replace(/<!--.*-->\n?/g, '')}`);
    if (opts.write) console.log(`\nwritten to ${writeResults(section, runKey(opts))}`);
  } finally {
    await server?.dispose();
    await sink?.close();
    snapshot.remove();
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err.stack ?? err}`);
  process.exit(1);
});
