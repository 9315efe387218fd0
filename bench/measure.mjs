// What a run measures besides the HTTP answers: CPU and memory per process (from /proc), Redis
// command costs, and the state of the inbox (from the database).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { REDIS_URL } from './setup.mjs';

const TICK = 100; // USER_HZ

function procStat(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const close = stat.lastIndexOf(')');
  const f = stat.slice(close + 2).split(' ');
  return {
    comm: stat.slice(stat.indexOf('(') + 1, close),
    ppid: Number(f[1]),
    own: (Number(f[11]) + Number(f[12])) / TICK,
    reaped: (Number(f[13]) + Number(f[14])) / TICK, // children that exited and were waited for
  };
}

/**
 * CPU seconds used so far by the target processes (`targets`: name to pid), by PostgreSQL, by every
 * redis-server on the machine and by this process (the load generator). PostgreSQL is the private
 * cluster of `postmasterPid` (the postmaster, its live children and the ones it reaped, so that
 * autovacuum workers count), or every postgres process on the machine when there is none.
 */
export function cpuSnapshot(targets, postmasterPid) {
  const byPid = new Map(Object.entries(targets).map(([name, pid]) => [pid, name]));
  const out = { ...Object.fromEntries(Object.keys(targets).map((name) => [name, 0])), postgres: 0, redis: 0, loadgen: 0 };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let s;
    try {
      s = procStat(entry);
    } catch {
      continue;
    }
    const pid = Number(entry);
    if (byPid.has(pid)) out[byPid.get(pid)] += s.own;
    else if (postmasterPid ? pid === postmasterPid : s.comm === 'postgres') out.postgres += s.own + (postmasterPid ? s.reaped : 0);
    else if (postmasterPid && s.ppid === postmasterPid) out.postgres += s.own;
    else if (s.comm === 'redis-server') out.redis += s.own;
  }
  const self = process.cpuUsage();
  out.loadgen = (self.user + self.system) / 1e6;
  return out;
}

/** Per process: CPU seconds between two snapshots, and µs per request. */
export function cpuDelta(before, after, requests) {
  const d = {};
  for (const k of Object.keys(after))
    d[k] = { seconds: after[k] - before[k], usPerRequest: requests > 0 ? ((after[k] - before[k]) * 1e6) / requests : NaN };
  return d;
}

/** Peak resident set (VmHWM) and current RSS of a process, in MB, from /proc. */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { hwmMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
  } catch {
    return { hwmMb: NaN, rssMb: NaN };
  }
}

/** Only with --cpu-prof: which Redis commands the run cost (INFO commandstats is server-wide). */
export function redisCommandStats() {
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

export function redisCommandsBetween(before, after) {
  return Object.entries(after)
    .map(([cmd, s]) => ({ cmd, calls: s.calls - (before[cmd]?.calls ?? 0), usec: s.usec - (before[cmd]?.usec ?? 0) }))
    .filter((s) => s.calls > 0)
    .sort((a, b) => b.usec - a.usec)
    .slice(0, 12);
}

export const feedbackCount = async (client) => (await client.query('SELECT count(*)::int AS n FROM feedback')).rows[0].n;

/**
 * The inbox now: rows not yet processed, ignored or failed (the backlog), feedback rows (processed
 * deliveries), its size with indexes and TOAST, and autovacuum's work on it.
 */
export async function inboxState(client) {
  // Cheap enough to run every minute of a soak without disturbing it: the open rows through
  // webhook_events_open where the build has it (older builds: a scan), the row counts from the
  // statistics collector rather than a count(*) over the whole table.
  const open = (await client.query(`SELECT to_regclass('webhook_events_open') IS NOT NULL AS has`)).rows[0].has;
  const backlog = open
    ? `SELECT count(*) FROM webhook_events WHERE id IN (SELECT id FROM webhook_events_open) AND status IN ('received', 'processing')`
    : `SELECT count(*) FROM webhook_events WHERE status IN ('received', 'processing')`;
  const { rows } = await client.query(`
    SELECT (${backlog})::int AS backlog,
           (s.n_tup_ins - s.n_tup_del)::int AS rows,
           (SELECT n_tup_ins FROM pg_stat_user_tables WHERE relid = 'feedback'::regclass)::int AS feedback,
           pg_total_relation_size('webhook_events')::float8 AS bytes,
           s.autovacuum_count::int AS autovacuums, s.autoanalyze_count::int AS autoanalyzes, s.n_dead_tup::int AS dead
      FROM pg_stat_user_tables s WHERE s.relid = 'webhook_events'::regclass`);
  return rows[0];
}

export async function inboxByStatus(client) {
  const { rows } = await client.query(`SELECT status, count(*)::int AS n FROM webhook_events GROUP BY status ORDER BY status`);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** The statements PostgreSQL spent most time on (pg_stat_statements, where installed); [] otherwise. */
export async function topStatements(client, limit = 5) {
  try {
    const { rows } = await client.query(
      `SELECT calls::float8, total_exec_time::float8 AS total_ms, mean_exec_time::float8 AS mean_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC LIMIT $1`,
      [limit],
    );
    return rows;
  } catch {
    return [];
  }
}
