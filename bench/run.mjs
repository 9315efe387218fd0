// `npm run bench`: the service against the platform's example handler, same load, same machine.
//
//   npm run bench -- [--connections 50] [--duration 10] [--warmup 3] [--queue redis|postgres]
//                    [--skip-baseline] [--cpu-prof] [--env KEY=VALUE ...] [--keep-db] [--no-write]
//                    [--dist DIR] [--drain-timeout SECONDS] [--topology single|split]
//
// --topology single (default): one process, APP_ROLE=all, as `npm start` runs it.
// --topology split: an APP_ROLE=api and an APP_ROLE=worker process, as docker-compose.yml and
// deploy/k8s run it; CPU and peak RSS are reported for both together and for each.
// The service runs with NODE_ENV=production and the NODE_OPTIONS of the Dockerfile's runtime stage
// (its V8 heap ceiling), as the image runs it; `--env NODE_OPTIONS=` runs it without.
//
// Builds nothing itself (the npm script builds first). Runs a snapshot of dist/ (so a rebuild in the
// work tree cannot pull the service out from under a run), creates a fresh database on the local
// PostgreSQL (TEST_PG_ADMIN_URL), uses the local Redis (TEST_REDIS_URL) under a fresh QUEUE_PREFIX,
// and drives both targets with autocannon: unique, correctly signed ~200-byte
// session.feedback_submitted deliveries, each request its own body and signature.
import autocannon from 'autocannon';
import { fork, spawn, execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { imageEnv } from '../scripts/dockerfile.mjs';
import { dropKeys, freePort } from '../scripts/local-services.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'bench-secret-0123456789abcdef0123456789';
const PATH = '/webhooks/ai-interview';
// The service runs with the image's V8 flags (its heap ceiling); `--env NODE_OPTIONS=` runs it without.
const IMAGE_NODE_OPTIONS = imageEnv(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).NODE_OPTIONS ?? '';

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const o = { connections: 50, duration: 10, warmup: 3, queue: 'redis', topology: 'single', baseline: true, cpuProf: false, env: {}, keepDb: false, write: true, drainTimeout: 120 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--connections' || a === '-c') o.connections = Number(next());
    else if (a === '--duration' || a === '-d') o.duration = Number(next());
    else if (a === '--warmup' || a === '-w') o.warmup = Number(next());
    else if (a === '--queue') o.queue = next();
    else if (a === '--topology') o.topology = next();
    else if (a === '--skip-baseline') o.baseline = false;
    else if (a === '--cpu-prof') o.cpuProf = true;
    else if (a === '--keep-db') o.keepDb = true;
    else if (a === '--no-write') o.write = false;
    else if (a === '--dist') o.dist = next();
    else if (a === '--drain-timeout') o.drainTimeout = Number(next());
    else if (a === '--env') {
      const [k, ...v] = next().split('=');
      o.env[k] = v.join('=');
    } else if (a === '--help' || a === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(0, 5).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (!['redis', 'postgres'].includes(o.queue)) throw new Error('--queue must be redis or postgres');
  if (!['single', 'split'].includes(o.topology)) throw new Error('--topology must be single or split');
  if (o.topology === 'split' && o.env.APP_ROLE) throw new Error('--topology split sets APP_ROLE itself');
  for (const k of ['connections', 'duration', 'warmup']) if (!(o[k] >= 0)) throw new Error(`--${k} must be a number`);
  return o;
}

// ---------------------------------------------------------------- helpers
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitHttp(url, child, timeoutMs, output) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited during startup:\n${output()}`);
    try {
      await fetch(url);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms:\n${output()}`);
}

function stopChild(child, signal = 'SIGTERM', timeoutMs = 20_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** Peak resident set (VmHWM) and current RSS of a process, in MB, from /proc. */
function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { hwmMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
  } catch {
    return { hwmMb: NaN, rssMb: NaN };
  }
}

/** A request source: every request gets its own session id, body and signature. */
function deliveries(runId) {
  let n = 0;
  const comment = 'Clear questions, good pacing; the follow-ups were relevant.';
  return {
    get count() {
      return n;
    },
    setupRequest(req) {
      const id = (n++).toString(36).padStart(7, '0');
      const body = `{"event":"session.feedback_submitted","session_id":"${runId}-${id}","feedback":{"rating":${(n % 5) + 1},"comment":"${comment}"},"timestamp":"2026-11-27T12:00:00.000Z"}`;
      const signature = createHmac('sha256', SECRET).update(body).digest('hex');
      return { ...req, body, headers: { 'content-type': 'application/json', 'x-webhook-signature': signature } };
    },
  };
}

function cannon(url, { connections, duration }, source) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        duration,
        method: 'POST',
        requests: [{ method: 'POST', path: PATH, setupRequest: (req) => source.setupRequest(req) }],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    instance.on('error', reject);
  });
}

function summarise(result) {
  return {
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

// ---------------------------------------------------------------- targets
async function runBaseline(opts) {
  const port = await freePort();
  const child = fork(join(ROOT, 'bench', 'baseline.mjs'), [], {
    env: { PATH: process.env.PATH, PORT: String(port), WEBHOOK_SECRET: SECRET, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(`${url}/__ping`, child, 10_000, () => out);
    if (opts.warmup > 0) await cannon(url, { connections: opts.connections, duration: opts.warmup }, deliveries(`bw-${randomBytes(3).toString('hex')}`));
    const cpu0 = cpuSnapshot({ target: child.pid });
    const result = summarise(await cannon(url, opts, deliveries(`b-${randomBytes(3).toString('hex')}`)));
    result.cpu = cpuDelta(cpu0, cpuSnapshot({ target: child.pid }), result.total);
    result.hwmMb = memoryOf(child.pid).hwmMb;
    return result;
  } finally {
    await stopChild(child);
  }
}

function snapshotDist(distDir = join(ROOT, 'dist')) {
  const main = join(distDir, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first (npm run bench does)`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  cpSync(distDir, join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

async function createDatabase() {
  const name = `wh_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: PG_ADMIN_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/**
 * CPU seconds used so far by the target processes (`targets`: name to pid), by every postgres and
 * redis-server process on the machine, and by this process (the load generator): where the cores
 * went during a run.
 */
function cpuSnapshot(targets) {
  const tick = 100; // USER_HZ
  const byPid = new Map(Object.entries(targets).map(([name, pid]) => [pid, name]));
  const out = { ...Object.fromEntries(Object.keys(targets).map((name) => [name, 0])), postgres: 0, redis: 0, loadgen: 0 };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    const secs = (Number(fields[11]) + Number(fields[12])) / tick;
    if (byPid.has(Number(entry))) out[byPid.get(Number(entry))] += secs;
    else if (comm === 'postgres') out.postgres += secs;
    else if (comm === 'redis-server') out.redis += secs;
  }
  const self = process.cpuUsage();
  out.loadgen = (self.user + self.system) / 1e6;
  return out;
}

function cpuDelta(before, after, requests) {
  const d = {};
  for (const k of Object.keys(after)) d[k] = { seconds: after[k] - before[k], usPerRequest: requests > 0 ? ((after[k] - before[k]) * 1e6) / requests : NaN };
  return d;
}

async function waitFor(fn, timeoutMs, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await sleep(intervalMs);
  }
  return false;
}

async function redisCommandStats() {
  // Only used with --cpu-prof: which Redis commands the run cost (INFO commandstats is server-wide).
  try {
    const out = execFileSync('redis-cli', ['-u', REDIS_URL, 'INFO', 'commandstats'], { encoding: 'utf8' });
    const stats = {};
    for (const line of out.split('\n')) {
      const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
      if (m) stats[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
    }
    return stats;
  } catch {
    return {};
  }
}

/** Removes the run's queue keys from the shared Redis (the service is stopped by then). */
async function dropQueueKeys(prefix) {
  await dropKeys(REDIS_URL, `${prefix}:*`);
}

/** Starts dist/main.js of the snapshot in one role; `output()` is what it printed so far. */
function startService(snapshot, env, role, port, opts, profDir) {
  const nodeArgs = opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${role}.${Date.now()}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...nodeArgs, join(snapshot, 'dist', 'main.js')], {
    cwd: snapshot,
    env: { ...env, PORT: String(port), ...(role === 'service' ? {} : { APP_ROLE: role }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return { role, child, port, output: () => out };
}

async function runService(opts, snapshot) {
  const db = await createDatabase();
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const profDir = join(tmpdir(), 'bench-profiles');
  if (opts.cpuProf) mkdirSync(profDir, { recursive: true });
  const env = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: db.url,
    REDIS_URL,
    WEBHOOK_SECRET: SECRET,
    QUEUE_PREFIX: prefix,
    QUEUE_BACKEND: opts.queue,
    NODE_OPTIONS: IMAGE_NODE_OPTIONS,
    ...opts.env,
  };
  // The first process takes the deliveries; in the split topology the second one processes them.
  const roles = opts.topology === 'split' ? ['api', 'worker'] : ['service'];
  const procs = [];
  for (const role of roles) procs.push(startService(snapshot, env, role, await freePort(), opts, profDir));
  const output = () => procs.map((p) => (procs.length > 1 ? `--- ${p.role}\n${p.output()}` : p.output())).join('\n');
  const pids = Object.fromEntries(procs.map((p) => [p.role, p.child.pid]));
  const client = new pg.Client({ connectionString: db.url });
  // APP_ROLE=api (--env APP_ROLE=api): ingest alone, nothing processed, no end-to-end figure.
  const ingestOnly = env.APP_ROLE === 'api';
  let sampler;
  try {
    const url = `http://127.0.0.1:${procs[0].port}`;
    for (const p of procs) await waitHttp(`http://127.0.0.1:${p.port}/health/live`, p.child, 30_000, output);
    await client.connect();
    const migrated = await waitFor(async () => (await client.query(`SELECT to_regclass('public.feedback') IS NOT NULL AS ok`)).rows[0].ok, 30_000, 100);
    if (!migrated) throw new Error(`migrations did not finish:\n${output()}`);
    const feedbackCount = async () => Number((await client.query('SELECT count(*)::int AS n FROM feedback')).rows[0].n);

    let accepted = 0;
    if (opts.warmup > 0) {
      const w = await cannon(url, { connections: opts.connections, duration: opts.warmup }, deliveries(`sw-${randomBytes(3).toString('hex')}`));
      accepted += w['2xx'];
      // Let the warm-up backlog drain so the measured run starts from an empty queue.
      if (!ingestOnly && !(await waitFor(async () => (await feedbackCount()) >= accepted, opts.drainTimeout * 1000))) {
        throw new Error(`warm-up backlog did not drain in ${opts.drainTimeout} s (${await feedbackCount()}/${accepted})`);
      }
    }
    // Peak RSS: of all processes together (sampled) and of each (sampled, and the kernel's high-water mark).
    const peaks = Object.fromEntries(roles.map((r) => [r, 0]));
    let peakTotal = 0;
    const sample = () => {
      let total = 0;
      for (const p of procs) {
        const { rssMb } = memoryOf(p.child.pid);
        peaks[p.role] = Math.max(peaks[p.role], rssMb);
        total += rssMb;
      }
      peakTotal = Math.max(peakTotal, total);
    };
    const finishMemory = (result) => {
      sample();
      for (const p of procs) peaks[p.role] = Math.max(peaks[p.role], memoryOf(p.child.pid).hwmMb);
      result.peakRssMb = procs.length > 1 ? peakTotal : peaks[roles[0]];
      result.peakRssByRole = procs.length > 1 ? peaks : undefined;
    };
    sampler = setInterval(sample, 100);
    const statsBefore = opts.cpuProf ? await redisCommandStats() : undefined;

    const cpu0 = cpuSnapshot(pids);
    const t0 = performance.now();
    const raw = await cannon(url, opts, deliveries(`s-${randomBytes(3).toString('hex')}`));
    const tLoadEnd = performance.now();
    const result = summarise(raw);
    result.cpu = cpuDelta(cpu0, cpuSnapshot(pids), result.total);
    const backlogAtEnd = accepted + result.ok - (await feedbackCount());
    const target = accepted + result.ok;
    if (ingestOnly) {
      result.e2eEventsPerSec = result.e2eSeconds = result.drainSeconds = result.backlogAtEnd = NaN;
      finishMemory(result);
      result.inbox = {};
      result.output = output();
      return result;
    }
    const drained = await waitFor(async () => (await feedbackCount()) >= target, opts.drainTimeout * 1000, 50);
    const tDone = performance.now();
    if (!drained) throw new Error(`events not processed within ${opts.drainTimeout} s after the load (${await feedbackCount()}/${target})`);
    clearInterval(sampler);
    result.e2eEventsPerSec = result.ok / ((tDone - t0) / 1000);
    result.e2eSeconds = (tDone - t0) / 1000;
    result.drainSeconds = (tDone - tLoadEnd) / 1000;
    result.backlogAtEnd = backlogAtEnd;
    finishMemory(result);
    const inbox = (await client.query(`SELECT status, count(*)::int AS n FROM webhook_events GROUP BY status ORDER BY status`)).rows;
    result.inbox = Object.fromEntries(inbox.map((r) => [r.status, r.n]));
    if (opts.cpuProf) {
      const after = await redisCommandStats();
      result.redisCommands = Object.entries(after)
        .map(([cmd, s]) => ({ cmd, calls: s.calls - (statsBefore[cmd]?.calls ?? 0), usec: s.usec - (statsBefore[cmd]?.usec ?? 0) }))
        .filter((s) => s.calls > 0)
        .sort((a, b) => b.usec - a.usec)
        .slice(0, 12);
    }
    result.output = output();
    return result;
  } finally {
    clearInterval(sampler);
    await client.end().catch(() => undefined);
    // SIGINT lets --cpu-prof write its profile (Nest re-raises the signal after closing).
    await Promise.all(procs.map((p) => stopChild(p.child, opts.cpuProf ? 'SIGINT' : 'SIGTERM')));
    if (!opts.keepDb) await db.drop().catch((e) => console.error(`could not drop ${db.name}: ${e.message}`));
    if (!opts.keepDb && opts.queue === 'redis') await dropQueueKeys(prefix);
  }
}

// ---------------------------------------------------------------- report
const f0 = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const f1 = (n) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const f2 = (n) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');

function report(opts, base, svc, machine) {
  const ratio = base ? svc.rps / base.rps : NaN;
  const targets = [
    ['ingest req/s vs baseline', '>= 1.0x', base ? `${f2(ratio)}x` : 'n/a', base ? ratio >= 1.0 : undefined],
    ['p99 ack latency', '< 25 ms', `${svc.p99} ms`, svc.p99 < 25],
    ['end-to-end events/s', '>= 2,000', f0(svc.e2eEventsPerSec), svc.e2eEventsPerSec >= 2000],
    ['service peak RSS', '< 300 MB', `${f0(svc.peakRssMb)} MB`, svc.peakRssMb < 300],
  ];
  const row = (name, r) => `| ${name} | ${f0(r.rps)} | ${r.p50} | ${r.p99} | ${r.max} | ${f0(r.ok)} | ${f0(r.non2xx)} | ${f0(r.errors + r.timeouts)} |`;
  const split = opts.topology === 'split';
  const lines = [
    `<!-- run: ${runKey(opts)} -->`,
    `### Queue backend: ${opts.queue}${split ? ', api and worker processes' : ''}`,
    '',
    `${machine.date} · ${machine.cpus} CPUs (${machine.cpuModel}) · Node ${machine.node} · ${opts.connections} connections, ${opts.duration} s after a ${opts.warmup} s warm-up · load generator on the same cores · service NODE_OPTIONS: ${nodeOptionsNote(opts)}`,
    '',
    `Command: \`npm run bench -- --queue ${opts.queue}${split ? ' --topology split' : ''}${opts.connections !== 50 ? ` --connections ${opts.connections}` : ''}${opts.duration !== 10 ? ` --duration ${opts.duration}` : ''}${Object.keys(opts.env).length ? ' ' + Object.entries(opts.env).map(([k, v]) => `--env ${k}=${v}`).join(' ') : ''}\``,
    '',
    '| target | requests/s | p50 ms | p99 ms | max ms | 2xx | non-2xx | errors |',
    '|---|---|---|---|---|---|---|---|',
    ...(base ? [row('baseline (Express, platform example)', base)] : []),
    row(`service (durable, queue: ${opts.queue}${split ? ', api + worker' : ''})`, svc),
    '',
    `- service / baseline requests/s: **${base ? f2(ratio) + 'x' : 'n/a'}**`,
    `- end-to-end: **${f0(svc.e2eEventsPerSec)} events/s** (${f0(svc.ok)} accepted events, first request to last \`feedback\` row in ${f1(svc.e2eSeconds)} s; ${f0(svc.backlogAtEnd)} still queued when the load stopped, drained in ${f1(svc.drainSeconds)} s)`,
    `- service peak RSS: **${f0(svc.peakRssMb)} MB**${svc.peakRssByRole ? ` together (${Object.entries(svc.peakRssByRole).map(([k, v]) => `${k} ${f0(v)} MB`).join(', ')})` : ''}${base ? ` (baseline ${f0(base.hwmMb)} MB)` : ''}`,
    ...[['baseline', base], ['service', svc]]
      .filter(([, r]) => r)
      .map(([name, r]) => `- CPU per request during the ${name}'s load (µs): ${Object.entries(r.cpu).map(([k, v]) => `${k === 'target' ? name : k} ${f0(v.usPerRequest)}`).join(', ')}`),
    `- inbox after the run: ${Object.entries(svc.inbox).map(([k, v]) => `${k} ${f0(v)}`).join(', ')}`,
    '',
    '| target | goal | measured | met |',
    '|---|---|---|---|',
    ...targets.map(([n, g, m, ok]) => `| ${n} | ${g} | ${m} | ${ok === undefined ? 'n/a' : ok ? 'yes' : '**no**'} |`),
    '<!-- /run -->',
  ];
  return lines.join('\n');
}

function nodeOptionsNote(opts) {
  const value = opts.env.NODE_OPTIONS ?? IMAGE_NODE_OPTIONS;
  if (!value) return 'none (V8 sizes its heap from the machine)';
  return value === IMAGE_NODE_OPTIONS ? `\`${value}\` (the image's)` : `\`${value}\``;
}

/** Which section of bench/results.md a run replaces: one per queue backend and topology. */
function runKey(opts) {
  return opts.topology === 'split' ? `${opts.queue}-split` : opts.queue;
}

function writeResults(section, key) {
  const file = join(ROOT, 'bench', 'results.md');
  const header = '# Benchmark results\n\nWritten by `npm run bench` (bench/run.mjs); each run replaces the section of its queue backend and topology.\n';
  let existing = existsSync(file) ? readFileSync(file, 'utf8') : header;
  const re = new RegExp(`<!-- run: ${key} -->[\\s\\S]*?<!-- /run -->`);
  existing = re.test(existing) ? existing.replace(re, section) : `${existing.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, existing.endsWith('\n') ? existing : `${existing}\n`);
  return file;
}

// ---------------------------------------------------------------- main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const machine = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model?.trim() ?? 'unknown',
    node: process.version,
  };
  console.log(`bench: ${opts.connections} connections, ${opts.warmup} s warm-up + ${opts.duration} s, queue ${opts.queue}, ${machine.cpus} CPUs, Node ${machine.node}`);
  const snapshot = snapshotDist(opts.dist);
  try {
    let base;
    if (opts.baseline) {
      console.log('running the baseline (bench/baseline.mjs) ...');
      base = await runBaseline(opts);
      console.log(`  baseline: ${f0(base.rps)} req/s, p50 ${base.p50} ms, p99 ${base.p99} ms, max ${base.max} ms, non-2xx ${base.non2xx}`);
    }
    console.log(`running the service (dist/main.js, NODE_ENV=production${opts.topology === 'split' ? ', an api and a worker process' : ''}) ...`);
    const svc = await runService(opts, snapshot);
    console.log(`  service:  ${f0(svc.rps)} req/s, p50 ${svc.p50} ms, p99 ${svc.p99} ms, max ${svc.max} ms, non-2xx ${svc.non2xx}`);
    for (const [name, r] of [['baseline', base], ['service', svc]]) {
      if (!r) continue;
      console.log(`  CPU during the ${name}'s measured load (seconds, µs per request): ${Object.entries(r.cpu).map(([k, v]) => `${k} ${f1(v.seconds)} s / ${f0(v.usPerRequest)} µs`).join(', ')}`);
    }
    if (opts.cpuProf) console.log(`  CPU profile of the service written under ${join(tmpdir(), 'bench-profiles')}`);
    if (svc.redisCommands) {
      console.log('  Redis INFO commandstats during the measured run (calls, usec):');
      for (const s of svc.redisCommands) console.log(`    ${s.cmd.padEnd(14)} ${String(s.calls).padStart(8)} ${String(s.usec).padStart(10)}`);
    }
    const warnings = svc.output.split('\n').filter((l) => /"level":"(warn|error|fatal)"|WARN|ERROR/.test(l));
    if (warnings.length) console.log(`  service warnings (last 10):\n${warnings.slice(-10).join('\n')}`);
    const section = report(opts, base, svc, machine);
    console.log(`\n${section.replace(/<!--.*-->\n?/g, '')}`);
    if (opts.write) console.log(`\nwritten to ${writeResults(section, runKey(opts))}`);
  } finally {
    rmSync(snapshot, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err.stack ?? err}`);
  process.exit(1);
});
