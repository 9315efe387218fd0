// What a run prints and writes to bench/results.md: one section per mode, queue backend and topology,
// each between `<!-- run: KEY -->` and `<!-- /run -->`, replaced by the next run of its kind.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lateStretches } from './load.mjs';
import { IMAGE_NODE_OPTIONS, ROOT } from './setup.mjs';

export const f0 = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const f1 = (n) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
export const f2 = (n) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
const met = (ok) => (ok === undefined ? 'n/a' : ok ? 'yes' : '**no**');
const targetTable = (targets) => [
  '| target | goal | measured | met |',
  '|---|---|---|---|',
  ...targets.map(([n, g, m, ok]) => `| ${n} | ${g} | ${m} | ${met(ok)} |`),
];

function nodeOptionsNote(opts) {
  const value = opts.env.NODE_OPTIONS ?? IMAGE_NODE_OPTIONS;
  if (!value) return 'none (V8 sizes its heap from the machine)';
  return value === IMAGE_NODE_OPTIONS ? `\`${value}\` (the image's)` : `\`${value}\``;
}

/** Which section of bench/results.md a run replaces: one per mode, queue backend, topology, role and Node major. */
export function runKey(opts) {
  const node = `node${process.versions.node.split('.')[0]}`;
  const role = opts.env.APP_ROLE ? `-${opts.env.APP_ROLE}` : '';
  const tracing = opts.tracing === undefined ? '' : '-tracing';
  return `${opts.soak ? 'soak-' : ''}${opts.queue}${opts.topology === 'split' ? '-split' : ''}${role}${tracing}-${node}`;
}

function command(opts) {
  const flags = [opts.soak ? '--soak' : '', `--queue ${opts.queue}`, opts.topology === 'split' ? '--topology split' : ''];
  if (opts.soak)
    flags.push(`--rate ${opts.rate}`, `--minutes ${opts.minutes}`, opts.connections !== 20 ? `--connections ${opts.connections}` : '');
  else
    flags.push(
      opts.connections !== 50 ? `--connections ${opts.connections}` : '',
      opts.duration !== 10 ? `--duration ${opts.duration}` : '',
    );
  flags.push(
    opts.pg === 'shared' ? '--pg shared' : '',
    opts.tracing === undefined ? '' : `--tracing ${opts.tracing}`,
    ...Object.entries(opts.env).map(([k, v]) => `--env ${k}=${v}`),
  );
  return `\`npm run bench -- ${flags.filter(Boolean).join(' ')}\``;
}

export function burstReport(opts, base, svc, machine, servers, floor) {
  const ratio = base ? svc.rps / base.rps : NaN;
  // The throughput targets: the front door alone (APP_ROLE=api) is held to more than the whole service.
  const frontDoorOnly = opts.env.APP_ROLE === 'api';
  const ratioGoal = frontDoorOnly ? 0.8 : 0.5;
  const serviceCpu = (r) =>
    Object.entries(r.cpu)
      .filter(([k]) => !['postgres', 'redis', 'loadgen'].includes(k))
      .reduce((sum, [, v]) => sum + v.usPerRequest, 0);
  const cpuRatio = base ? serviceCpu(svc) / serviceCpu(base) : NaN;
  const targets = [
    ['ingest req/s vs baseline', `>= ${ratioGoal}x`, base ? `${f2(ratio)}x` : 'n/a', base ? ratio >= ratioGoal : undefined],
    [
      'service CPU per request vs baseline',
      '<= 1.5x',
      base ? `${f2(cpuRatio)}x (${f0(serviceCpu(svc))} / ${f0(serviceCpu(base))} µs)` : 'n/a',
      base ? cpuRatio <= 1.5 : undefined,
    ],
    ['p99 ack latency', '< 25 ms', `${svc.p99} ms`, svc.p99 < 25],
    ...(frontDoorOnly ? [] : [['end-to-end events/s', '>= 3,000', f0(svc.e2eEventsPerSec), svc.e2eEventsPerSec >= 3000]]),
    ['service peak RSS', '< 250 MB', `${f0(svc.peakRssMb)} MB`, svc.peakRssMb < 250],
  ];
  const row = (name, r) =>
    `| ${name} | ${f0(r.rps)} | ${r.p50} | ${r.p99} | ${r.max} | ${f0(r.ok)} | ${f0(r.non2xx)} | ${f0(r.errors + r.timeouts)} |`;
  const split = opts.topology === 'split';
  return [
    `<!-- run: ${runKey(opts)} -->`,
    `### Queue backend: ${opts.queue}${split ? ', api and worker processes' : ''}${opts.env.APP_ROLE ? `, APP_ROLE=${opts.env.APP_ROLE}` : ''}, Node ${process.versions.node.split('.')[0]}`,
    '',
    `${machine.date} · ${machine.cpus} CPUs (${machine.cpuModel}) · Node ${machine.node} · ${opts.connections} connections, ${opts.duration} s after a ${opts.warmup} s warm-up · load generator on the same cores · service NODE_OPTIONS: ${nodeOptionsNote(opts)}`,
    '',
    servers,
    '',
    `Command: ${command(opts)}`,
    '',
    '| target | requests/s | p50 ms | p99 ms | max ms | 2xx | non-2xx | errors |',
    '|---|---|---|---|---|---|---|---|',
    ...(base ? [row('baseline (Express, platform example)', base)] : []),
    ...(floor ? [row(`durable floor (bench/floor.mjs${frontDoorOnly ? ', no worker' : ''})`, floor)] : []),
    row(`service (durable, queue: ${opts.queue}${split ? ', api + worker' : ''})`, svc),
    '',
    `- service / baseline requests/s: **${base ? f2(ratio) + 'x' : 'n/a'}**`,
    ...(floor
      ? [
          `- durable floor / baseline requests/s: **${base ? f2(floor.rps / base.rps) + 'x' : 'n/a'}**; service / floor: **${f2(svc.rps / floor.rps)}x**${frontDoorOnly ? '' : `; floor end to end ${f0(floor.e2eEventsPerSec)} events/s`}`,
        ]
      : []),
    `- end-to-end: **${f0(svc.e2eEventsPerSec)} events/s** (${f0(svc.ok)} accepted events, first request to last \`feedback\` row in ${f1(svc.e2eSeconds)} s; ${f0(svc.backlogAtEnd)} still queued when the load stopped, drained in ${f1(svc.drainSeconds)} s)`,
    `- service peak RSS: **${f0(svc.peakRssMb)} MB**${
      svc.peakRssByRole
        ? ` together (${Object.entries(svc.peakRssByRole)
            .map(([k, v]) => `${k} ${f0(v)} MB`)
            .join(', ')})`
        : ''
    }${base ? ` (baseline ${f0(base.hwmMb)} MB)` : ''}`,
    ...(opts.tracingSummary ? [`- ${opts.tracingSummary()}`] : []),
    ...[
      ['baseline', base],
      ['floor', floor],
      ['service', svc],
    ]
      .filter(([, r]) => r)
      .map(
        ([name, r]) =>
          `- CPU per request during the ${name}'s load (µs): ${Object.entries(r.cpu)
            .map(([k, v]) => `${k === 'target' ? name : k} ${f0(v.usPerRequest)}`)
            .join(', ')}`,
      ),
    `- inbox after the run: ${Object.entries(svc.inbox)
      .map(([k, v]) => `${k} ${f0(v)}`)
      .join(', ')}`,
    '',
    ...targetTable(targets),
    '<!-- /run -->',
  ].join('\n');
}

const SOAK_COLUMNS = [
  'min',
  'offered/s',
  '2xx/s',
  'non-2xx',
  'errors',
  'p50 ms',
  'p99 ms',
  'max ms',
  'backlog',
  'feedback rows',
  'RSS MB',
  'inbox MB',
  'inbox rows',
  'autovacuums',
  'dead rows',
];

/** The per-minute table's header; RSS and CPU have one figure per process of the topology. */
export function soakHeader(roles) {
  const procs = roles.length > 1 ? ` (${roles.join(' + ')})` : '';
  const cols = SOAK_COLUMNS.map((c) => (c === 'RSS MB' ? `RSS MB${procs}` : c));
  cols.push(`CPU % of a core: postgres · ${roles.length > 1 ? roles.join(' + ') : 'service'} · redis · load generator`);
  return [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`].join('\n');
}

export function soakRow(m, roles) {
  const cells = [
    m.minute,
    f0(m.offeredPerSec),
    f0(m.okPerSec),
    f0(m.non2xx),
    f0(m.errors),
    f1(m.p50),
    f1(m.p99),
    f1(m.max),
    f0(m.backlog),
    f0(m.feedback),
    roles.map((r) => f0(m.rss[r])).join(' + '),
    f1(m.bytes / 1048576),
    f0(m.rows),
    f0(m.autovacuums),
    f0(m.dead),
    `${f0(m.cpu.postgres)} · ${roles.map((r) => f0(m.cpu[r])).join(' + ')} · ${f0(m.cpu.redis)} · ${f0(m.cpu.loadgen)}`,
  ];
  return `| ${cells.join(' | ')} |`;
}

/** Where the minutes' p99 comes from: each stretch of seconds that alone would miss the p99 target. */
function lateLine(perSecond, lateMs) {
  const stretches = lateStretches(perSecond);
  const seconds = stretches.reduce((n, s) => n + s.to - s.from + 1, 0);
  const shown = [...stretches].sort((a, b) => b.over - a.over).slice(0, 12);
  const list = stretches
    .filter((s) => shown.includes(s))
    .map((s) => `${s.from === s.to ? `${s.from} s` : `${s.from}–${s.to} s`} (${f0(s.over)}, slowest ${f0(s.max)} ms)`);
  return `- late seconds (more than 1 % of a second's 2xx answers at ${lateMs} ms or more, by when they were due): ${f0(seconds)} of ${f0(perSecond.length)}${stretches.length ? ` in ${f0(stretches.length)} stretches${stretches.length > shown.length ? `, the ${shown.length} with the most late answers` : ''}: ${list.join('; ')}` : ''}`;
}

export function soakTotals(opts, r) {
  const t = r.totals;
  const cpu = Object.entries(r.cpu).map(([k, v]) => `${k} ${f0(v.usPerRequest)}`);
  return [
    `- offered ${f0(t.offered)} deliveries in ${f1(r.loadSeconds)} s (${f0(opts.rate)}/s); sent ${f0(t.sent)}${t.skipped ? `, skipped ${f0(t.skipped)} (more than 5 s of load waiting)` : ''}; 2xx ${f0(t.ok)} (**${f0(t.ok / r.loadSeconds)}/s** achieved), non-2xx ${f0(t.non2xx)}, errors ${f0(t.errors)}, timeouts ${f0(t.timeouts)}`,
    `- ack latency over the run (from when each request was due): p50 ${f1(t.latency.percentile(50))} ms, p99 ${f1(t.latency.percentile(99))} ms, max ${f1(t.latency.max)} ms; the sender issued requests late by p99 ${f1(t.lag.percentile(99))} ms, max ${f1(t.lag.max)} ms`,
    lateLine(t.perSecond, t.lateMs),
    r.ingestOnly
      ? '- nothing processes (APP_ROLE=api): no drain, lost n/a'
      : `- drain: ${r.drained ? `every accepted delivery processed ${f1(r.drainSeconds)} s after the load` : `**not drained** within ${f0(opts.drainTimeout)} s`}; processed (feedback rows) ${f0(r.processed)} of ${f0(t.ok)} accepted; **lost ${f0(r.lost)}**`,
    `- inbox at the end: ${Object.entries(r.byStatus)
      .map(([k, v]) => `${k} ${f0(v)}`)
      .join(
        ', ',
      )}; ${f1(r.inbox.bytes / 1048576)} MB with indexes; autovacuum ran ${f0(r.inbox.autovacuums)} times on it (autoanalyze ${f0(r.inbox.autoanalyzes)}), ${f0(r.inbox.dead)} dead rows left`,
    `- CPU per accepted delivery over the load (µs): ${cpu.join(', ')}`,
  ];
}

export function soakReport(opts, r, machine, servers, targets) {
  const roles = Object.keys(r.minutes[0]?.rss ?? {});
  return [
    `<!-- run: ${runKey(opts)} -->`,
    `### Soak: queue backend ${opts.queue}${opts.topology === 'split' ? ', api and worker processes' : ''}, ${f0(opts.rate)} deliveries/s for ${opts.minutes} min, Node ${process.versions.node.split('.')[0]}`,
    '',
    `${machine.date} · ${machine.cpus} CPUs (${machine.cpuModel}) · Node ${machine.node} · open-loop sender at a steady rate on ${opts.connections} keep-alive connections, on the same cores · service NODE_OPTIONS: ${nodeOptionsNote(opts)}`,
    '',
    servers,
    '',
    `Command: ${command(opts)}`,
    '',
    "Per minute: latency of 2xx answers from when each request was due; errors include timeouts and requests skipped because 5 s of load was already waiting; backlog is inbox rows not yet processed, ignored or failed; RSS the highest of the minute's 1 s samples; inbox MB with indexes and TOAST; autovacuums on `webhook_events` so far.",
    '',
    soakHeader(roles),
    ...r.minutes.map((m) => soakRow(m, roles)),
    '',
    ...soakTotals(opts, r),
    '',
    ...targetTable(targets),
    '<!-- /run -->',
  ].join('\n');
}

export function writeResults(section, key) {
  const file = join(ROOT, 'bench', 'results.md');
  const header =
    '# Benchmark results\n\nWritten by `npm run bench` (bench/run.mjs); each run replaces the section of its mode, queue backend, topology, role and Node major.\n';
  let existing = existsSync(file) ? readFileSync(file, 'utf8') : header;
  const re = new RegExp(`<!-- run: ${key} -->[\\s\\S]*?<!-- /run -->`);
  // A run of a new kind goes after the last run section, above the log of earlier runs (`<!-- log -->`).
  const log = existing.indexOf('<!-- log -->');
  if (re.test(existing)) existing = existing.replace(re, () => section);
  else if (log < 0) existing = `${existing.trimEnd()}\n\n${section}\n`;
  else existing = `${existing.slice(0, log).trimEnd()}\n\n${section}\n\n${existing.slice(log)}`;
  writeFileSync(file, existing.endsWith('\n') ? existing : `${existing}\n`);
  return file;
}
