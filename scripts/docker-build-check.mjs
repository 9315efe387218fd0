#!/usr/bin/env node
// Replays the Dockerfile on a host without a Docker engine: the build context is a clean copy of the
// repository's files filtered by .dockerignore, each stage is a directory standing in for the image's
// root, COPY/WORKDIR/ENV are applied and every RUN line is executed as written (with the host's Node;
// the image's Node version runs the result afterwards). Then the runtime stage is checked and run the
// way docker-compose.yml runs it: the migrate one-shot, then the api and worker roles with production
// dependencies only, as an unprivileged user, against a fresh PostgreSQL database and the local Redis.
// Each started process must answer its probes and exit 0 on SIGTERM within SHUTDOWN_TIMEOUT_MS.
//
//   node scripts/docker-build-check.mjs [--keep] [--no-node24] [--ref REV]
//
// Env: TEST_PG_ADMIN_URL, TEST_REDIS_URL (as the e2e tests), NODE24_CHECK=0 to skip the Node 24 run.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import YAML from 'yaml';
import { dropKeys, freePort } from './local-services.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const args = new Set(argv);
// --ref REV builds the context from a commit (git archive) instead of the work tree.
const ref = argv.includes('--ref') ? argv[argv.indexOf('--ref') + 1] : undefined;
const keep = args.has('--keep');
const node24 = !args.has('--no-node24') && process.env.NODE24_CHECK !== '0';
const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const started = Date.now();

const log = (msg) => console.log(`[docker-build-check +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
class CheckFailed extends Error {}
function fail(msg) {
  throw new CheckFailed(msg);
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

export function parseDockerfile(text) {
  const out = [];
  let buf = '';
  for (const raw of text.split('\n')) {
    const t = raw.trim();
    if (t.startsWith('#') || (t === '' && buf === '')) continue;
    if (t.endsWith('\\')) {
      buf += t.slice(0, -1) + ' ';
      continue;
    }
    buf += t;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(buf);
    if (!m) fail(`cannot parse Dockerfile line: ${buf}`);
    out.push({ op: m[1].toUpperCase(), args: m[2].trim() });
    buf = '';
  }
  return out;
}

/** The environment the image's final stage sets with ENV (what `docker run` starts the service with). */
export function imageEnv(text) {
  const ops = parseDockerfile(text);
  const lastFrom = ops.findLastIndex((o) => o.op === 'FROM');
  return Object.assign({}, ...ops.slice(lastFrom + 1).filter((o) => o.op === 'ENV').map((o) => parseEnv(o.args)));
}

function splitFlags(argString) {
  const words = argString.split(/\s+/);
  const flags = {};
  while (words.length && words[0].startsWith('--')) {
    const [k, v = 'true'] = words.shift().slice(2).split(/=(.*)/s);
    flags[k] = v;
  }
  return { flags, rest: words.join(' ') };
}

function parseEnv(argString) {
  const env = {};
  if (!argString.includes('=')) {
    const [k, ...v] = argString.split(/\s+/);
    env[k] = v.join(' ');
    return env;
  }
  for (const m of argString.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|'([^']*)'|\S*)/g)) env[m[1]] = m[3] ?? m[4] ?? m[2];
  return env;
}

function execForm(argString, what) {
  try {
    const v = JSON.parse(argString);
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v;
  } catch {
    /* shell form */
  }
  fail(`${what} must be in exec form (a JSON array) so signals reach Node: ${argString}`);
}

// ---------------------------------------------------------------------------------------------
// Build context: the repository's files (tracked and new, not git-ignored) less .dockerignore

function globToRegex(glob) {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function dockerignoreMatcher(text) {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const p = path.posix.normalize(negate ? l.slice(1).trim() : l).replace(/^\/+|\/+$/g, '');
      return { negate, re: globToRegex(p) };
    });
  return (rel) => {
    const parts = rel.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const r of rules) if (prefixes.some((p) => r.re.test(p))) ignored = !r.negate;
    return ignored;
  };
}

/** The work tree's files (tracked and new, not git-ignored), or with --ref REV that commit's, less .dockerignore. */
function makeContext(dest, work) {
  let from = repo;
  if (ref) {
    from = path.join(work, 'ref');
    fs.mkdirSync(from);
    execFileSync('sh', ['-c', `git -C "$1" archive "$2" | tar -x -C "$3"`, 'sh', repo, ref, from]);
  }
  const listed = ref
    ? execFileSync('find', ['.', '-type', 'f'], { cwd: from, encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.slice(2))
    : execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean);
  const ignoreFile = path.join(repo, '.dockerignore');
  const ignored = dockerignoreMatcher(fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, 'utf8') : '');
  let count = 0;
  for (const rel of listed) {
    const src = path.join(from, rel);
    if (ignored(rel) || !fs.existsSync(src) || fs.statSync(src).isDirectory()) continue;
    fs.mkdirSync(path.dirname(path.join(dest, rel)), { recursive: true });
    fs.copyFileSync(src, path.join(dest, rel));
    count++;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Stage replay

function replay(instructions, work) {
  const stages = [];
  let stage;
  const logFile = path.join(work, 'build.log');
  for (const { op, args: a } of instructions) {
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(a);
      if (!m) fail(`cannot parse FROM ${a}`);
      const [, base, name = `stage${stages.length}`] = m;
      const parent = stages.find((s) => s.name === base);
      const root = path.join(work, 'stages', name);
      if (parent) {
        // Hard links: fast, and later stages only add files (npm run build writes dist/).
        fs.mkdirSync(path.dirname(root), { recursive: true });
        execFileSync('cp', ['-al', parent.root, root]);
      } else {
        const tag = /^[^:@\s]+:([^\s]+)$/.exec(base)?.[1];
        if (!tag || tag === 'latest' || !/\d/.test(tag)) fail(`base image ${base} is not pinned to a version tag`);
        fs.mkdirSync(root, { recursive: true });
      }
      stage = {
        name,
        base: parent ? parent.base : base,
        root,
        workdir: parent ? parent.workdir : '/',
        env: parent ? { ...parent.env } : {},
        user: parent ? parent.user : 'root',
        cmd: parent?.cmd,
        healthcheck: parent?.healthcheck,
        expose: parent ? [...parent.expose] : [],
        runs: [],
      };
      stages.push(stage);
      continue;
    }
    if (!stage) fail(`${op} before FROM`);
    const cwd = () => path.join(stage.root, stage.workdir);
    switch (op) {
      case 'WORKDIR':
        stage.workdir = path.posix.resolve(stage.workdir, a);
        fs.mkdirSync(cwd(), { recursive: true });
        break;
      case 'ENV':
        Object.assign(stage.env, parseEnv(a));
        break;
      case 'COPY': {
        const { flags, rest } = splitFlags(a);
        const parts = rest.split(/\s+/);
        const destArg = parts.pop();
        const fromRoot = flags.from ? stages.find((s) => s.name === flags.from)?.root : path.join(work, 'context');
        if (!fromRoot) fail(`COPY --from=${flags.from}: no such stage`);
        const dest = path.join(stage.root, path.posix.resolve(stage.workdir, destArg));
        const intoDir = destArg.endsWith('/') || parts.length > 1;
        for (const src of parts) {
          const from = path.join(fromRoot, flags.from ? src : path.posix.normalize(src));
          if (!fs.existsSync(from)) fail(`COPY ${src}: not in the ${flags.from ? `stage ${flags.from}` : 'build context (check .dockerignore)'}`);
          const isDir = fs.statSync(from).isDirectory();
          // Docker copies a directory's contents, and a file into a directory when dest ends in '/'.
          const target = !isDir && intoDir ? path.join(dest, path.basename(from)) : dest;
          fs.mkdirSync(isDir ? target : path.dirname(target), { recursive: true });
          fs.cpSync(from, target, { recursive: true });
        }
        break;
      }
      case 'RUN': {
        const { rest } = splitFlags(a);
        const t0 = Date.now();
        const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? '/root', ...stage.env };
        const r = spawnSync('/bin/sh', ['-c', rest], { cwd: cwd(), env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        fs.appendFileSync(logFile, `$ ${rest}\n${r.stdout}${r.stderr}\n`);
        if (r.status !== 0) {
          console.error(`${r.stdout}${r.stderr}`.split('\n').slice(-40).join('\n'));
          fail(`[${stage.name}] RUN ${rest} exited ${r.status}`);
        }
        stage.runs.push(rest);
        log(`[${stage.name}] RUN ${rest} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
        break;
      }
      case 'USER':
        stage.user = a;
        break;
      case 'EXPOSE':
        stage.expose.push(...a.split(/\s+/).map((p) => Number(p.split('/')[0])));
        break;
      case 'CMD':
        stage.cmd = execForm(a, 'CMD');
        break;
      case 'HEALTHCHECK': {
        const { flags, rest } = splitFlags(a);
        const m = /^CMD\s+(.*)$/s.exec(rest);
        if (!m) fail(`HEALTHCHECK must run a command: ${a}`);
        stage.healthcheck = { flags, cmd: execForm(m[1], 'HEALTHCHECK CMD') };
        break;
      }
      default:
        fail(`the replay does not support ${op}: extend scripts/docker-build-check.mjs or avoid it`);
    }
  }
  return stages;
}

// ---------------------------------------------------------------------------------------------
// Runtime stage checks

function du(dir) {
  return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) * 1024;
}
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function checkRuntime(runtime) {
  const app = path.join(runtime.root, runtime.workdir);
  if (runtime.user === 'root' || runtime.user === '0' || runtime.user.startsWith('0:')) fail('the runtime stage runs as root');
  if (runtime.env.NODE_ENV !== 'production') fail('the runtime stage does not set NODE_ENV=production');
  if (!runtime.runs.some((r) => /\bnpm ci\b.*--omit=dev/.test(r))) fail('the runtime stage does not run npm ci --omit=dev');
  if (!runtime.cmd) fail('no CMD');
  if (!runtime.healthcheck) fail('no HEALTHCHECK');
  const entries = fs.readdirSync(app).sort();
  const expected = ['dist', 'node_modules', 'package-lock.json', 'package.json'];
  if (JSON.stringify(entries) !== JSON.stringify(expected)) fail(`runtime ${runtime.workdir} holds ${entries.join(', ')}; expected only ${expected.join(', ')}`);
  // The lockfile marks every package only development needs: none may be installed.
  const lock = JSON.parse(fs.readFileSync(path.join(app, 'package-lock.json'), 'utf8'));
  const devOnly = Object.entries(lock.packages).filter(([p, v]) => p && v.dev && fs.existsSync(path.join(app, p)));
  if (devOnly.length) fail(`development packages in the runtime stage: ${devOnly.slice(0, 5).map(([p]) => p).join(', ')}`);
  const tsInDist = execFileSync('find', [path.join(app, 'dist'), '-name', '*.ts', '-not', '-name', '*.d.ts'], { encoding: 'utf8' }).trim();
  if (tsInDist) fail(`TypeScript sources in dist: ${tsInDist.split('\n')[0]}`);
  // Node also resolves packages from node_modules in parent directories, which the image has none of.
  for (let dir = path.dirname(path.dirname(app)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'node_modules'))) fail(`${path.join(dir, 'node_modules')} exists above the runtime stage and would hide a missing package`);
  }
  if (fs.existsSync('/node_modules')) fail('/node_modules exists and would hide a missing package');
  return { app, sizes: { node_modules: du(path.join(app, 'node_modules')), dist: du(path.join(app, 'dist')) } };
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml: the commands and environment the stack gives the image

export function interpolate(value, env = {}) {
  return String(value).replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (all, name, colon, kind, arg) => {
    if (all === '$$') return '$';
    const v = env[name];
    const unset = v === undefined || (colon === ':' && v === '');
    if (kind === '-') return unset ? arg : v;
    if (kind === '?' && unset) fail(`compose variable ${name} is required: ${arg}`);
    return v ?? '';
  });
}

function composeService(compose, name) {
  const svc = compose.services?.[name];
  if (!svc) fail(`docker-compose.yml has no service ${name}`);
  let env = svc.environment ?? {};
  if (Array.isArray(env)) env = Object.fromEntries(env.map((e) => e.split(/=(.*)/s).slice(0, 2)));
  return {
    env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(v ?? '')])),
    command: svc.command ? (Array.isArray(svc.command) ? svc.command.map((c) => interpolate(c)) : fail(`${name}.command must be a list`)) : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Processes

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs argv as the image's unprivileged user would: uid nobody when we are root (setpriv). */
function asUser(argv) {
  if (process.getuid?.() === 0 && fs.existsSync('/usr/bin/setpriv')) {
    return ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', ...argv];
  }
  return argv;
}

function resolveNode(argv, nodeBin) {
  return argv[0] === 'node' ? [nodeBin, ...argv.slice(1)] : argv;
}

function startProcess(label, argv, cwd, env) {
  const [cmd, ...rest] = asUser(argv);
  const child = spawn(cmd, rest, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { label, child, exited, output: () => out };
}

async function runToEnd(label, argv, cwd, env, timeoutMs) {
  const p = startProcess(label, argv, cwd, env);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await p.exited;
  clearTimeout(timer);
  return { code, signal, output: p.output() };
}

async function get(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function waitStatus(proc, url, want, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) fail(`${proc.label} exited during start-up:\n${proc.output()}`);
    last = await get(url);
    if (want(last)) return last;
    await sleep(200);
  }
  fail(`${proc.label}: ${url} answered ${last || 'nothing'} after ${timeoutMs} ms:\n${proc.output().slice(-4000)}`);
}

async function runImage({ label, nodeBin, runtime, app, compose, databaseUrl }) {
  const home = path.join(path.dirname(app), `home-${label.replace(/\W+/g, '-')}`);
  fs.mkdirSync(home, { recursive: true });
  if (process.getuid?.() === 0) fs.chownSync(home, 65534, 65534);
  const baseEnv = { PATH: `${path.dirname(nodeBin)}:${process.env.PATH}`, HOME: home, ...runtime.env };
  const prefix = `build-check-${randomBytes(4).toString('hex')}`;
  const results = {};
  const procs = [];
  try {
    for (const role of ['api', 'worker']) {
      const svc = composeService(compose, role);
      const port = await freePort();
      // The stack's own environment, with the addresses of this machine's services.
      const env = { ...baseEnv, ...svc.env, DATABASE_URL: databaseUrl, REDIS_URL, PORT: String(port), QUEUE_PREFIX: prefix };
      const argv = resolveNode(svc.command ?? runtime.cmd, nodeBin);
      const t0 = Date.now();
      const p = startProcess(`${label} ${role}`, argv, app, env);
      procs.push(p);
      p.port = port;
      p.env = env;
      p.t0 = t0;
      p.role = role;
    }
    const hasLive = declaresRoute('live');
    const hasReady = declaresRoute('ready');
    for (const p of procs) {
      const base = `http://127.0.0.1:${p.port}`;
      if (hasLive) {
        await waitStatus(p, `${base}/health/live`, (s) => s === 200, 60_000);
      } else {
        log(`WARN ${p.label}: no /health/live route in src yet; checking only that the port answers`);
        await waitStatus(p, `${base}/`, (s) => s > 0, 60_000);
      }
      const upMs = Date.now() - p.t0;
      if (hasReady) await waitStatus(p, `${base}/health/ready`, (s) => s === 200, 60_000);
      const readyMs = Date.now() - p.t0;
      // The image's own HEALTHCHECK command, in the container's environment.
      const hc = await runToEnd(`${p.label} healthcheck`, resolveNode(runtime.healthcheck.cmd, nodeBin), app, p.env, 10_000);
      if (hasLive && hc.code !== 0) fail(`${p.label}: the Dockerfile HEALTHCHECK exited ${hc.code}: ${hc.output}`);
      const metrics = await get(`${base}/metrics`);
      if (metrics !== 200) fail(`${p.label}: GET /metrics answered ${metrics}`);
      results[p.role] = { upMs, readyMs, healthcheck: hc.code };
      log(`${p.label}: live after ${upMs} ms${hasReady ? `, ready after ${readyMs} ms` : ''}, HEALTHCHECK exit ${hc.code}, /metrics 200`);
    }
    // The image's filesystem is not writable by its user (and read-only under deploy/k8s).
    for (const p of procs) {
      const denied = /^.*\b(EACCES|EROFS|permission denied)\b.*$/im.exec(p.output());
      if (denied) fail(`${p.label} tried to write where the image does not let it: ${denied[0].slice(0, 300)}`);
    }
    const bound = Number(procs[0].env.SHUTDOWN_TIMEOUT_MS ?? 25_000) + 5_000;
    await Promise.all(
      procs.map(async (p) => {
        const t0 = Date.now();
        p.child.kill('SIGTERM');
        const timer = setTimeout(() => p.child.kill('SIGKILL'), bound);
        const { code, signal } = await p.exited;
        clearTimeout(timer);
        const ms = Date.now() - t0;
        if (code !== 0) fail(`${p.label}: SIGTERM ended it with ${signal ?? `exit ${code}`} after ${ms} ms (bound ${bound} ms):\n${p.output().slice(-4000)}`);
        results[p.role].stopMs = ms;
        log(`${p.label}: SIGTERM -> exit 0 in ${ms} ms`);
      }),
    );
    return results;
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await dropKeys(REDIS_URL, `${prefix}:*`);
  }
}

/** Whether src/ declares GET /health/<name> (the probe routes belong to the health module). */
function declaresRoute(name) {
  const grep = (re) => spawnSync('grep', ['-rlE', re, path.join(repo, 'src')]).status === 0;
  return grep(`['"\`]/?health/${name}['"\`]`) || (grep(`@Controller\\(['"]/?health['"]`) && grep(`@Get\\(['"]/?${name}['"]`));
}

async function node24Binary(version, work) {
  const r = spawnSync('npx', ['-y', '-p', `node@${version}`, 'node', '-p', 'process.execPath'], { cwd: work, encoding: 'utf8', timeout: 120_000 });
  const bin = r.stdout?.trim().split('\n').pop();
  if (r.status !== 0 || !bin || !fs.existsSync(bin)) return { error: (r.stderr || r.error?.message || 'npx failed').trim().split('\n').slice(-3).join(' ') };
  // Copied next to the runtime so the unprivileged user can execute it (npx's cache is under $HOME).
  const dest = path.join(work, 'node24', 'node');
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(bin, dest);
  fs.chmodSync(dest, 0o755);
  return { bin: dest };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const work = fs.mkdtempSync(path.join(tmpdir(), 'docker-build-check-'));
  // Readable by the unprivileged user the runtime is started as; writable only by us, as in the image.
  fs.chmodSync(work, 0o755);
  let db;
  let admin;
  try {
    const instructions = parseDockerfile(fs.readFileSync(path.join(repo, 'Dockerfile'), 'utf8'));
    const files = makeContext(path.join(work, 'context'), work);
    log(`build context: ${files} files (${mib(du(path.join(work, 'context')))}) in ${work}`);
    log(`replaying the Dockerfile with the host's node ${process.version}`);
    const stages = replay(instructions, work);
    const runtime = stages.at(-1);
    const { app, sizes } = checkRuntime(runtime);
    log(`runtime stage "${runtime.name}" (${runtime.base}, USER ${runtime.user}): node_modules ${mib(sizes.node_modules)}, dist ${mib(sizes.dist)}, no dev packages`);

    const compose = YAML.parse(fs.readFileSync(path.join(repo, 'docker-compose.yml'), 'utf8'), { merge: true });

    admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    const dbName = `build_check_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${dbName}`);
    db = dbName;
    const dbUrl = new URL(PG_ADMIN_URL);
    dbUrl.pathname = `/${dbName}`;
    const databaseUrl = dbUrl.toString();

    // The migrate one-shot of docker-compose.yml (the k8s Job runs the same command).
    const migrate = composeService(compose, 'migrate');
    if (!migrate.command) fail('the migrate service has no command');
    const t0 = Date.now();
    const m = await runToEnd(
      'migrate',
      resolveNode(migrate.command, process.execPath),
      app,
      { PATH: process.env.PATH, HOME: work, ...runtime.env, ...migrate.env, DATABASE_URL: databaseUrl },
      60_000,
    );
    if (m.code !== 0) fail(`migrate (${migrate.command.join(' ')}) exited ${m.code}:\n${m.output.slice(-4000)}`);
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`, [dbName]);
    const check = new pg.Client({ connectionString: databaseUrl });
    await check.connect();
    const applied = (await check.query('SELECT count(*)::int AS n FROM migrations')).rows[0].n;
    await check.end();
    if (!rows[0].n || applied < 1) fail('migrate reported success but applied no migration');
    log(`migrate: ${migrate.command.join(' ')} -> exit 0, ${applied} migration(s) applied in ${Date.now() - t0} ms`);

    const host = await runImage({ label: `node ${process.version}`, nodeBin: process.execPath, runtime, app, compose, databaseUrl });

    let n24 = 'skipped';
    const version = /^node:(\d+\.\d+\.\d+)/.exec(runtime.base)?.[1];
    if (!node24) log('Node 24 run skipped (--no-node24 / NODE24_CHECK=0)');
    else if (!version) log(`Node run of the image's version skipped: base image ${runtime.base} is not node:X.Y.Z-*`);
    else {
      const r = await node24Binary(version, work);
      if (r.error) log(`SKIP the run under node ${version} (the image's runtime): fetching node@${version} from the npm registry failed: ${r.error}`);
      else {
        await runImage({ label: `node v${version}`, nodeBin: r.bin, runtime, app, compose, databaseUrl });
        n24 = `passed (node v${version})`;
      }
    }
    log(`OK: Dockerfile replayed, runtime started as api and worker (host node ${process.version}: passed; image node: ${n24}); total ${((Date.now() - started) / 1000).toFixed(1)}s`);
    void host;
  } finally {
    if (admin && db) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    await admin?.end().catch(() => undefined);
    if (keep) log(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err instanceof CheckFailed ? `docker-build-check FAILED: ${err.message}` : err);
    process.exit(1);
  });
}
