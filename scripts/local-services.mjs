// The one home of the helpers that start the service and the things it needs on this machine, shared
// by the bench, the image check and the test suites: a free port, queue keys removed by prefix, a
// throwaway database, the built service as a child process, and private PostgreSQL and Redis servers
// that a caller may configure, stop and restart. Plain JavaScript so that bench/ and scripts/ use it
// without a build; local-services.d.mts types it for the TypeScript tests.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every `intervalMs` until it returns something truthy, and returns that; false after `timeoutMs`. */
export async function waitFor(fn, timeoutMs, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await fn();
    if (value) return value;
    await sleep(intervalMs);
  }
  return false;
}

// Cleanup of last resort: private servers are stopped when this process exits, however it exits.
const exitHooks = new Set();
process.on('exit', () => {
  for (const hook of exitHooks) {
    try {
      hook();
    } catch {
      /* best effort */
    }
  }
});
/** Runs `hook` (synchronous) when the process exits; returns a function that unregisters it. */
export function onExit(hook) {
  exitHooks.add(hook);
  return () => exitHooks.delete(hook);
}

/** A TCP port free on 127.0.0.1 right now (also used as a port nothing listens on). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Unlinks every key matching the SCAN `pattern` whose name also passes `keep` (default: all). */
export async function dropKeys(redisUrl, pattern, keep = () => true) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let dropped = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      const doomed = keys.filter(keep);
      if (doomed.length) dropped += await redis.unlink(...doomed);
      cursor = next;
    } while (cursor !== '0');
  } catch (err) {
    console.error(`could not remove the ${pattern} keys from Redis: ${err.message}`);
  } finally {
    redis.disconnect();
  }
  return dropped;
}

async function adminQuery(adminUrl, sql) {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A fresh database on the server of `adminUrl`. It keeps no connection open (one would die with a
 * server that a caller stops); `drop()` removes it, connections and all.
 */
export async function createDatabase(adminUrl, { prefix = 'wh_tmp' } = {}) {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * Starts `node <entry>` (default dist/main.js under `cwd`) with exactly `env` (PATH added when
 * missing) and PORT, and waits until it answers HTTP on `readyPath` (any status). Rejects with its
 * output if it exits or stays silent for `timeoutMs` (it is killed then).
 */
export async function startService({
  entry,
  env = {},
  port,
  cwd = process.cwd(),
  nodeArgs = [],
  timeoutMs = 30_000,
  readyPath = '/health/live',
} = {}) {
  const main = entry ?? join(cwd, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first`);
  port ??= await freePort();
  const child = spawn(process.execPath, [...nodeArgs, main], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d) => {
    out += d;
    if (out.length > 8_000_000) out = out.slice(-4_000_000); // a long soak must not grow without bound
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const running = () => child.exitCode === null && child.signalCode === null;
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!running()) throw new Error(`${main} exited during startup:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${main} did not answer on ${baseUrl}${readyPath} within ${timeoutMs} ms:\n${out}`);
    }
    try {
      await fetch(`${baseUrl}${readyPath}`, { signal: AbortSignal.timeout(2000) });
      break;
    } catch {
      await sleep(100);
    }
  }
  return {
    child,
    port,
    baseUrl,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM', stopTimeoutMs = 30_000) {
      if (!running()) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Private PostgreSQL: initdb in a temp folder, run as the postgres OS user when this runs as root.

function pgBin(name) {
  for (const version of [17, 16, 15, 14]) {
    const candidate = `/usr/lib/postgresql/${version}/bin/${name}`;
    if (existsSync(candidate)) return candidate;
  }
  return name;
}

function asPostgres(args, timeoutMs = 60_000) {
  // runuser needs root; when the caller runs as postgres itself, run directly.
  const cmd = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...args] : args;
  return execFileSync(cmd[0], cmd.slice(1), { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

const confValue = (v) => `'${String(v).replaceAll("'", "''")}'`;

/**
 * A PostgreSQL cluster of its own on a spare port, started: `settings` (name to value) go into its
 * postgresql.conf; what is not set keeps the server's defaults (autovacuum on, fsync on, ...).
 */
export async function privatePostgres({ settings = {} } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'private-pg-'));
  const dataDir = join(dir, 'data');
  const log = join(dir, 'log');
  if (process.getuid?.() === 0) {
    const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  chmodSync(dir, 0o700);
  const pgCtl = pgBin('pg_ctl');
  asPostgres([pgBin('initdb'), '-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], 120_000);
  const all = { ...settings, port, listen_addresses: '127.0.0.1', unix_socket_directories: dir };
  appendFileSync(
    join(dataDir, 'postgresql.conf'),
    `\n# private cluster\n${Object.entries(all)
      .map(([k, v]) => `${k} = ${confValue(v)}`)
      .join('\n')}\n`,
  );
  const removeHook = onExit(() => {
    try {
      asPostgres([pgCtl, '-D', dataDir, '-m', 'immediate', 'stop'], 10_000);
    } catch {
      /* not running */
    }
  });
  const p = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    dataDir,
    /** The postmaster's process id while it runs (its first line of postmaster.pid). */
    pid() {
      try {
        return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
      } catch {
        return undefined;
      }
    },
    async start() {
      try {
        asPostgres([pgCtl, '-D', dataDir, '-l', log, '-w', '-t', '60', 'start'], 90_000);
      } catch (err) {
        const tail = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
        throw new Error(`private PostgreSQL on ${port} did not start: ${err.message}\n${tail}`, { cause: err });
      }
    },
    async stop(mode = 'fast') {
      try {
        asPostgres([pgCtl, '-D', dataDir, '-m', mode, '-w', '-t', '30', 'stop']);
      } catch {
        /* not running */
      }
    },
    /** Stops the server and removes its folder; `keepData` stops it cleanly and leaves the folder. */
    async dispose({ keepData = false } = {}) {
      await p.stop(keepData ? 'fast' : 'immediate');
      removeHook();
      if (!keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
  await p.start();
  return p;
}

// ------------------------------------------------------------------------------------------------
// Private Redis

/** A redis-server of its own on a spare port, started; no RDB snapshots, AOF when `appendonly`. */
export async function privateRedis({ appendonly = false } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'private-redis-'));
  let child;
  let exited = Promise.resolve();
  const removeHook = onExit(() => child?.kill('SIGKILL'));
  const ping = () => {
    try {
      const out = execFileSync('redis-cli', ['-p', String(port), 'ping'], {
        encoding: 'utf8',
        timeout: 2000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      return out.trim() === 'PONG';
    } catch {
      return false;
    }
  };
  const r = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--dir',
        dir,
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
      ];
      args.push('--appendonly', appendonly ? 'yes' : 'no');
      if (appendonly) args.push('--appendfsync', 'everysec');
      child = spawn('redis-server', args, { stdio: 'ignore' });
      exited = new Promise((resolve) => child.once('exit', () => resolve()));
      for (let i = 0; i < 100 && !ping(); i++) await sleep(50);
      if (!ping()) throw new Error(`private redis-server on ${port} did not start`);
    },
    async stop(how = 'term') {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      if (how === 'nosave') {
        try {
          execFileSync('redis-cli', ['-p', String(port), 'SHUTDOWN', 'NOSAVE'], { timeout: 5000, stdio: 'ignore' });
        } catch {
          /* the connection drops as the server goes */
        }
      } else child.kill(how === 'kill' ? 'SIGKILL' : 'SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    async dispose() {
      await r.stop('kill');
      removeHook();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await r.start();
  return r;
}

// ------------------------------------------------------------------------------------------------
// Private Prometheus

/**
 * A Prometheus server of its own (Debian's `prometheus`) on a spare port, scraping `targets`
 * (host:port) every second, with a fresh TSDB in a temp folder; `features` go to --enable-feature
 * (e.g. exemplar-storage). Its HTTP API answers at `url`.
 */
export async function privatePrometheus({ targets, features = [], metricsPath = '/metrics' }) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'private-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  const scrape = { job_name: 'service', metrics_path: metricsPath, static_configs: [{ targets }] };
  // JSON is YAML: no YAML writer needed.
  writeFileSync(config, JSON.stringify({ global: { scrape_interval: '1s', scrape_timeout: '1s' }, scrape_configs: [scrape] }));
  const args = [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`];
  for (const f of features) args.push(`--enable-feature=${f}`);
  const child = spawn('prometheus', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log = (log + d).slice(-16_384)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const spawned = await new Promise((resolve) => {
    child.once('spawn', () => resolve(true));
    child.once('error', (err) => resolve(err));
  });
  if (spawned !== true)
    throw new Error(`prometheus could not run (${spawned.message}): install Debian's prometheus package, as .ci/run does`);
  const removeHook = onExit(() => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  const ready = await waitFor(
    () =>
      fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      ),
    30_000,
    100,
  );
  const p = {
    url,
    port,
    log: () => log,
    async dispose() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      removeHook();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (!ready) {
    await p.dispose();
    throw new Error(`private prometheus on ${port} did not become ready:\n${log}`);
  }
  return p;
}

// ------------------------------------------------------------------------------------------------
// PgBouncer and TLS for PostgreSQL (docs/deployment.md, "PostgreSQL behind PgBouncer" and "TLS to
// PostgreSQL"). Kept together here: the Redis topologies have a block of their own.

/**
 * A PgBouncer of its own on a spare port in front of `target` (a PostgreSQL URL), started as the
 * postgres OS user (PgBouncer refuses root). Trust auth; every database name is forwarded.
 */
export async function privatePgBouncer({ target, poolMode = 'transaction', poolSize = 20, serverLoginRetry = 1 } = {}) {
  const port = await freePort();
  const upstream = new URL(target);
  const dir = mkdtempSync(join(tmpdir(), 'private-pgbouncer-'));
  if (process.getuid?.() === 0) {
    const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  const ini = join(dir, 'pgbouncer.ini');
  const users = join(dir, 'users.txt');
  writeFileSync(users, '"postgres" ""\n');
  writeFileSync(
    ini,
    [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port || 5432}`,
      '[pgbouncer]',
      `listen_addr = 127.0.0.1`,
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${users}`,
      `pool_mode = ${poolMode}`,
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 500',
      // pg and BullMQ send these at startup; PgBouncer 1.18 refuses what it does not know.
      'ignore_startup_parameters = extra_float_digits',
      'server_reset_query =',
      // After a failed login to the server (PostgreSQL restarting) PgBouncer waits this long before
      // trying again: its default, 15 s, kept deliveries at 503 for 12 s after PostgreSQL was back.
      `server_login_retry = ${serverLoginRetry}`,
      `logfile = ${join(dir, 'log')}`,
      `pidfile = ${join(dir, 'pid')}`,
      '',
    ].join('\n'),
  );
  let child;
  let exited = Promise.resolve();
  // PgBouncer runs under runuser: a signal to the child would leave PgBouncer itself running.
  const pgbouncerPid = () => Number(existsSync(join(dir, 'pid')) ? readFileSync(join(dir, 'pid'), 'utf8').trim() : 0);
  const removeHook = onExit(() => {
    if (pgbouncerPid()) process.kill(pgbouncerPid(), 'SIGKILL');
  });
  const cmd = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', 'pgbouncer', ini] : ['pgbouncer', ini];
  const answers = () =>
    new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
  const b = {
    port,
    dir,
    /** `target`'s URL with PgBouncer's address instead. */
    url: (() => {
      const u = new URL(target);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    })(),
    log: () => (existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : ''),
    async start() {
      rmSync(join(dir, 'pid'), { force: true });
      child = spawn(cmd[0], cmd.slice(1), { stdio: 'ignore' });
      exited = new Promise((resolve) => child.once('exit', () => resolve()));
      if (!(await waitFor(answers, 10_000))) throw new Error(`private PgBouncer on ${port} did not start:\n${b.log().slice(-2000)}`);
    },
    /** 'kill': SIGKILL (connections cut); 'term' (default): SIGTERM. */
    async stop(how = 'term') {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      // runuser forwards SIGTERM; a SIGKILL must reach PgBouncer itself.
      const pid = pgbouncerPid();
      if (how === 'kill' && pid) process.kill(pid, 'SIGKILL');
      else child.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    async dispose() {
      await b.stop('kill');
      removeHook();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await b.start();
  return b;
}

/**
 * A certificate authority and a server certificate it signed for `hosts` (DNS names and IPs), made
 * with openssl in a temp folder: `{ dir, ca, cert, key }` are file paths. PostgreSQL wants its key
 * readable by its own user only, so the files belong to postgres when this runs as root.
 */
export function makeCertificates({ hosts = ['localhost', '127.0.0.1'], name = 'test', client } = {}) {
  const dir = mkdtempSync(join(tmpdir(), `certs-${name}-`));
  const f = (n) => join(dir, n);
  const ssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name} test CA`,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
  );
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${hosts[0]}`, '-keyout', f('server.key'), '-out', f('server.csr'));
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  writeFileSync(f('ext.cnf'), `subjectAltName=${san}\n`);
  ssl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
    '-out',
    f('server.crt'),
  );
  chmodSync(f('server.key'), 0o600);
  if (process.getuid?.() === 0) {
    const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    for (const n of ['server.key', 'server.crt', 'ca.crt']) chownSync(f(n), id('-u'), id('-g'));
    chmodSync(dir, 0o755);
  }
  if (client) {
    // A client certificate the same CA signed, with `client` as its CN (for servers that require one).
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${client}`, '-keyout', f('client.key'), '-out', f('client.csr'));
    ssl(
      'x509',
      '-req',
      '-in',
      f('client.csr'),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      f('client.crt'),
    );
  }
  return {
    dir,
    ca: f('ca.crt'),
    cert: f('server.crt'),
    key: f('server.key'),
    ...(client ? { clientCert: f('client.crt'), clientKey: f('client.key') } : {}),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ------------------------------------------------------------------------------------------------
// Private Redis Sentinel and Redis Cluster (redis helper's block). Ports come from `basePort` (the
// caller's private range), consecutive: Sentinel uses basePort..basePort+1 for the primary and its
// replica and basePort+2.. for the sentinels; a cluster uses basePort..basePort+n-1 and their bus
// ports (+10000).

function redisCli(port, args, timeout = 5000) {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A redis-server (or redis-sentinel with `sentinel`) child with `args`, waited for until it answers PING. */
async function redisChild(port, dir, args, { sentinel = false } = {}) {
  const child = spawn(sentinel ? 'redis-sentinel' : 'redis-server', args, { stdio: 'ignore', cwd: dir });
  const exited = new Promise((resolve) => child.once('exit', () => resolve()));
  const ok = await waitFor(async () => {
    try {
      return redisCli(port, ['ping'], 1000) === 'PONG';
    } catch {
      return false;
    }
  }, 10_000);
  if (!ok) throw new Error(`private ${sentinel ? 'redis-sentinel' : 'redis-server'} on ${port} did not start`);
  return {
    port,
    child,
    exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

const serverArgs = (port, dir) => [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--dir',
  dir,
  '--daemonize',
  'no',
  '--loglevel',
  'warning',
];

/** The first answer `ask(port)` gives over `ports`, skipping nodes that are down or have none; else undefined. */
function firstAnswer(ports, ask) {
  for (const port of ports) {
    try {
      const answer = ask(port);
      if (answer !== undefined) return answer;
    } catch {
      /* that node is down: ask the next */
    }
  }
  return undefined;
}

/**
 * A primary, one replica and `sentinels` sentinels watching it as `name` (quorum 1 with one sentinel,
 * else 2), failing over after `downAfterMs` without an answer. `master()` asks a sentinel which node
 * is the primary now.
 */
export async function privateSentinel({ basePort, name = 'mymaster', sentinels = 3, downAfterMs = 1000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'private-sentinel-'));
  const children = [];
  const removeHook = onExit(() => children.forEach((c) => c.child.kill('SIGKILL')));
  const primaryPort = basePort;
  const replicaPort = basePort + 1;
  for (const port of [primaryPort, replicaPort]) {
    const nodeDir = join(dir, String(port));
    execFileSync('mkdir', ['-p', nodeDir]);
    const args = serverArgs(port, nodeDir);
    if (port === replicaPort) args.push('--replicaof', '127.0.0.1', String(primaryPort));
    children.push(await redisChild(port, nodeDir, args));
  }
  await waitFor(async () => redisCli(replicaPort, ['info', 'replication']).includes('master_link_status:up'), 10_000, 100);
  const sentinelPorts = [];
  for (let i = 0; i < sentinels; i++) {
    const port = basePort + 2 + i;
    const conf = join(dir, `sentinel-${port}.conf`);
    const quorum = sentinels === 1 ? 1 : 2;
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primaryPort} ${quorum}`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    children.push(await redisChild(port, dir, [conf], { sentinel: true }));
    sentinelPorts.push(port);
  }
  const s = {
    name,
    primaryPort,
    replicaPort,
    sentinelPorts,
    sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
    /** host:port of the primary as the first answering sentinel sees it. */
    master() {
      return firstAnswer(sentinelPorts, (port) => {
        const [host, p] = redisCli(port, ['sentinel', 'get-master-addr-by-name', name], 2000).split('\n');
        return `${host}:${p}`;
      });
    },
    /** The server child on `port` (the primary or the replica). */
    server(port) {
      return children.find((c) => c.port === port);
    },
    async dispose() {
      for (const c of children) await c.kill('SIGKILL');
      removeHook();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return s;
}

/**
 * A Redis Cluster of `masters` primaries, each with `replicasPerMaster` replicas, on basePort..; its
 * nodes call a peer failed after `nodeTimeoutMs`. `nodes` is the seed list as REDIS_CLUSTER_NODES
 * takes it; `slotOwner(slot)` is the port of the primary serving a slot now.
 */
export async function privateCluster({ basePort, masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 1000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'private-cluster-'));
  const children = [];
  const removeHook = onExit(() => children.forEach((c) => c.child.kill('SIGKILL')));
  const count = masters * (1 + replicasPerMaster);
  const ports = Array.from({ length: count }, (_, i) => basePort + i);
  for (const port of ports) {
    const nodeDir = join(dir, String(port));
    execFileSync('mkdir', ['-p', nodeDir]);
    children.push(
      await redisChild(port, nodeDir, [
        ...serverArgs(port, nodeDir),
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(nodeDir, 'nodes.conf'),
        '--cluster-node-timeout',
        String(nodeTimeoutMs),
        // A replica may take over however long it was cut off (the test kills primaries at will).
        '--cluster-replica-validity-factor',
        '0',
      ]),
    );
  }
  execFileSync(
    'redis-cli',
    ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
    { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const ok = await waitFor(async () => ports.every((p) => redisCli(p, ['cluster', 'info']).includes('cluster_state:ok')), 20_000, 200);
  if (!ok) throw new Error('private Redis Cluster did not reach cluster_state:ok');
  const c = {
    ports,
    nodes: ports
      .slice(0, masters)
      .map((p) => `127.0.0.1:${p}`)
      .join(','),
    /** The port of the primary serving `slot` now, as a live node reports it. */
    slotOwner(slot) {
      return firstAnswer(ports, (port) => {
        const line = redisCli(port, ['cluster', 'nodes'], 2000)
          .split('\n')
          .find((l) => {
            const f = l.split(' ');
            if (!f[2].includes('master') || f[2].includes('fail')) return false;
            return f.slice(8).some((r) => {
              const [a, b] = r.split('-').map(Number);
              return slot >= a && slot <= (b ?? a);
            });
          });
        return line ? Number(line.split(' ')[1].split(':')[1].split('@')[0]) : undefined;
      });
    },
    /** The hash slot of `key` (CLUSTER KEYSLOT on a live node). */
    keySlot(key) {
      return firstAnswer(ports, (port) => Number(redisCli(port, ['cluster', 'keyslot', key], 2000)));
    },
    server(port) {
      return children.find((x) => x.port === port);
    },
    async dispose() {
      for (const x of children) await x.kill('SIGKILL');
      removeHook();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return c;
}

/**
 * A redis-server answering only TLS on `port`, with certificates made by openssl in a temp folder:
 * a CA (`ca`), the server's (for 127.0.0.1 and localhost) and a client certificate (`cert`, `key`),
 * which the server requires when `clientCerts`. Paths are files, as REDIS_TLS_*_FILE take them.
 */
export async function privateTlsRedis({ port, clientCerts = true } = {}) {
  const certs = makeCertificates({ hosts: ['localhost', '127.0.0.1'], name: 'tls-redis', client: 'queue-client' });
  const child = spawn(
    'redis-server',
    [
      ...serverArgs(0, certs.dir),
      '--tls-port',
      String(port),
      '--tls-cert-file',
      certs.cert,
      '--tls-key-file',
      certs.key,
      '--tls-ca-cert-file',
      certs.ca,
      '--tls-auth-clients',
      clientCerts ? 'yes' : 'no',
    ],
    { stdio: 'ignore' },
  );
  const removeHook = onExit(() => child.kill('SIGKILL'));
  const exited = new Promise((resolve) => child.once('exit', () => resolve()));
  const cli = ['-p', String(port), '--tls', '--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey, 'ping'];
  const ok = await waitFor(async () => {
    try {
      return execFileSync('redis-cli', cli, { encoding: 'utf8', timeout: 1000, stdio: ['ignore', 'pipe', 'ignore'] }).trim() === 'PONG';
    } catch {
      return false;
    }
  }, 10_000);
  if (!ok) throw new Error(`private TLS redis-server on ${port} did not start`);
  return {
    port,
    url: `rediss://127.0.0.1:${port}`,
    ca: certs.ca,
    cert: certs.clientCert,
    key: certs.clientKey,
    async dispose() {
      child.kill('SIGKILL');
      await exited;
      removeHook();
      certs.dispose();
    },
  };
}
