import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { privatePrometheus } from '../scripts/local-services.mjs';
import { TRACE_ID_LABEL } from '../src/metrics/exemplars.js';
import { createTestDatabase, deliver, RunningService, startService, TestDatabase, waitFor } from './helpers/service.js';

const DEPLOY = join(process.cwd(), 'deploy');
const DASHBOARD = join(DEPLOY, 'grafana', 'dashboards', 'interview-webhooks.json');
const ALERTS = join(DEPLOY, 'prometheus', 'alerts.yml');
const PROMETHEUS = join(DEPLOY, 'prometheus', 'prometheus.yml');
const ALERT_TESTS = join(DEPLOY, 'prometheus', 'alerts.test.yml');
const DATASOURCES = join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'prometheus.yml');
// Runs each request inside the span its traceparent names, as the SDK's HTTP instrumentation would.
const TRACEPARENT_SPAN = pathToFileURL(join(process.cwd(), 'test', 'helpers', 'traceparent-span.mjs')).href;
// What Prometheus sends when scraping (2.x; 3.x asks the same with other q-values).
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
// The latency histograms that carry exemplars (src/metrics/exemplars.ts).
const EXEMPLAR_HISTOGRAMS = ['webhook_ingest_duration_seconds', 'webhook_processing_duration_seconds'];
const ADAPTER_RULES = join(DEPLOY, 'k8s', 'prometheus-adapter.example.yml');
const SCALED_OBJECT = join(DEPLOY, 'k8s-keda', 'scaledobject.yaml');

// Series Prometheus makes itself rather than scraping them from the service.
const FROM_PROMETHEUS = new Set(['up']);
const PROMQL_WORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** Metric names a PromQL expression reads (functions, label names, keywords and literals left out). */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // string literals
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = stripped[m.index - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue; // the e in 1e-9
    if (PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    if (
      stripped
        .slice(m.index + m[0].length)
        .trimStart()
        .startsWith('(')
    )
      continue; // a function
    names.add(m[0]);
  }
  return [...names];
}

function dashboardTargets(): any[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
  const walk = (panels: any[]): any[] => (panels ?? []).flatMap((p) => [...(p.targets ?? []), ...walk(p.panels)]);
  return walk(dashboard.panels);
}

function dashboardExprs(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
  const exprs: string[] = [];
  const walk = (panels: any[]) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) exprs.push(t.expr);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return exprs;
}

function alertExprs(): string[] {
  const rules = parse(readFileSync(ALERTS, 'utf8'));
  return rules.groups.flatMap((g: any) => g.rules.map((r: any) => String(r.expr)));
}

/** Names the service exposes, with each histogram's _bucket, _sum and _count series. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]);
    if (m[2] === 'histogram' || m[2] === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1] + s);
  }
  return names;
}

/** Label matchers (`=`, `!=`) of each selector of `name` in a PromQL expression. */
function selectors(expr: string, name: string): [string, string, string][][] {
  return [...expr.matchAll(new RegExp(`\\b${name}\\{([^}]*)\\}`, 'g'))].map((m) =>
    [...m[1].matchAll(/(\w+)\s*(!=|=)\s*"([^"]*)"/g)].map((l) => [l[1], l[2], l[3]] as [string, string, string]),
  );
}

/** Whether some sample of `name` in the exposition satisfies the matchers (labels Prometheus adds left out). */
function hasSample(exposition: string, name: string, matchers: [string, string, string][], added: string[]): boolean {
  return [...exposition.matchAll(new RegExp(`^${name}\\{([^}]*)\\} `, 'gm'))].some((m) => {
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    return matchers.every(([k, op, v]) => added.includes(k) || (op === '=' ? labels[k] === v : labels[k] !== v));
  });
}

/** Runs promtool; fails the test (never skips it) where promtool is missing. */
function promtool(args: string[], input?: string) {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8' });
  if (r.error)
    throw new Error(`promtool ${args[0]} could not run (${r.error.message}): install Debian's prometheus package, as .ci/run does`);
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe('metric names', () => {
  it('extracts metric names from PromQL', () => {
    expect(
      metricNames('histogram_quantile(0.95, sum by (le, event) (rate(webhook_processing_duration_seconds_bucket[$__rate_interval])))'),
    ).toEqual(['webhook_processing_duration_seconds_bucket']);
    expect(metricNames('sum(rate(a_total{outcome=~"x|y"}[5m])) / clamp_min(sum(rate(b_total[5m])), 1e-9) > 0.05').sort()).toEqual([
      'a_total',
      'b_total',
    ]);
    expect(metricNames('max by (queue) (g{state="waiting"}) > 100 and max by (queue) (delta(g[10m])) > 0')).toEqual(['g']);
  });
});

describe('deploy/: dashboard, scrape config and alert rules', () => {
  let db: TestDatabase;
  let t: RunningService;
  let exposition: string;
  const traceId = randomBytes(16).toString('hex');

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startService({ DATABASE_URL: db.url, NODE_OPTIONS: `--import ${TRACEPARENT_SPAN}` }, { timeoutMs: 60_000 });
    // Samples for the labelled series too, so `promtool check metrics` sees real lines; the first
    // delivery inside a sampled span, whose trace id becomes an exemplar.
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
    await deliver(
      t.baseUrl,
      { event: 'session.feedback_submitted', session_id: 'deploy-1', feedback: { rating: 4 } },
      { headers: { traceparent } },
    );
    await deliver(t.baseUrl, { event: 'session.feedback_submitted', session_id: 'deploy-2' }, { secret: 'wrong' });
    exposition = await waitFor(async () => {
      const res = await fetch(`${t.baseUrl}/metrics`);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await res.text();
      return /webhook_jobs_total\{[^}]*outcome="processed"/.test(text) ? text : undefined;
    });
  });

  afterAll(async () => {
    await t?.stop();
    await db?.drop();
  });

  it('queries only metrics the service exports (dashboard and alerts)', () => {
    const exported = exportedNames(exposition);
    const used = new Map<string, string>();
    for (const e of dashboardExprs()) for (const n of metricNames(e)) used.set(n, 'dashboard');
    for (const e of alertExprs()) for (const n of metricNames(e)) used.set(n, used.get(n) ? 'both' : 'alerts');
    // The series the dashboard must keep covering; if a name disappears from it, this says which.
    for (const n of [
      'webhooks_received_total',
      'webhook_ingest_duration_seconds_bucket',
      'webhook_jobs_total',
      'webhook_processing_duration_seconds_bucket',
      'webhook_queue_jobs',
      'transcript_download_duration_seconds_bucket',
      'slack_notifications_total',
      'slack_request_duration_seconds_bucket',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'app_ready',
    ]) {
      expect(used.has(n)).toBe(true);
    }
    const missing = [...used.keys()].filter((n) => !exported.has(n) && !FROM_PROMETHEUS.has(n));
    expect(missing).toEqual([]);
  });

  it('scales the workers (prometheus-adapter rule, KEDA query) on a series the service exports, with the labels they select', () => {
    const rules = parse(readFileSync(ADAPTER_RULES, 'utf8')).rules.external;
    const scaled = parse(readFileSync(SCALED_OBJECT, 'utf8'));
    const exprs: string[] = [scaled.spec.triggers[0].metadata.query];
    for (const r of rules) {
      const [series] = metricNames(r.seriesQuery);
      exprs.push(r.seriesQuery);
      // The adapter's templates, filled as it fills them for the worker HPA's selector.
      exprs.push(
        r.metricsQuery.replace('<<.Series>>', series).replace('<<.LabelMatchers>>', 'queue="webhooks"').replace('<<.GroupBy>>', 'queue'),
      );
    }
    const exported = exportedNames(exposition);
    for (const e of exprs) {
      const names = metricNames(e);
      expect([e, names.filter((n) => !exported.has(n))]).toEqual([e, []]);
      // The `namespace` label is the scrape's (prometheus-scrape.example.yml), not the service's.
      for (const n of names) for (const m of selectors(e, n)) expect([e, hasSample(exposition, n, m, ['namespace'])]).toEqual([e, true]);
    }
    expect(exprs.join()).toContain('state="waiting"');
  });

  it('points every dashboard panel at the provisioned Prometheus datasource', () => {
    const { datasources } = parse(readFileSync(DATASOURCES, 'utf8'));
    const uid = datasources[0].uid;
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
    const panels = dashboard.panels.filter((p: any) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(10);
    for (const p of panels) expect(p.datasource).toEqual({ type: 'prometheus', uid });
  });

  it('links the latency panels to the trace datasource: exemplars on their queries, trace_id mapped to a provisioned trace datasource', () => {
    const targets = dashboardTargets();
    for (const histogram of EXEMPLAR_HISTOGRAMS) {
      const withExemplars = targets.filter((t) => t.exemplar === true && metricNames(t.expr ?? '').includes(`${histogram}_bucket`));
      expect([histogram, withExemplars.length]).toEqual([histogram, 1]);
    }
    const { datasources } = parse(readFileSync(DATASOURCES, 'utf8'));
    const prometheus = datasources.find((d: any) => d.type === 'prometheus');
    const destinations = prometheus.jsonData.exemplarTraceIdDestinations;
    expect(destinations).toEqual([{ name: TRACE_ID_LABEL, datasourceUid: expect.any(String) }]);
    const traces = datasources.find((d: any) => d.uid === destinations[0].datasourceUid);
    expect(['jaeger', 'tempo']).toContain(traces?.type);
  });

  it('serves the text format unless the scraper prefers OpenMetrics, which carries the trace ids as exemplars', async () => {
    expect(exposition).not.toContain(traceId);
    expect(exposition).not.toContain('# EOF');
    const res = await fetch(`${t.baseUrl}/metrics`, { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(res.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(res.headers.get('vary')).toBe('Accept');
    const om = await res.text();
    expect(om.endsWith('\n# EOF\n')).toBe(true);
    expect(om).toMatch(
      new RegExp(
        `^webhook_ingest_duration_seconds_bucket\\{[^}]*status="accepted"\\} 1 # \\{${TRACE_ID_LABEL}="${traceId}"\\} [0-9.e-]+ [0-9.]+$`,
        'm',
      ),
    );
    // The same series as the text format, counters named as before.
    expect(om).toMatch(/^webhooks_received_total\{event="session.feedback_submitted",status="accepted"\} 1$/m);
  });

  it('is scraped as OpenMetrics by a Prometheus with exemplar storage, which keeps the trace id', async () => {
    const prometheus = await privatePrometheus({ targets: [new URL(t.baseUrl).host], features: ['exemplar-storage'] });
    try {
      const api = async (path: string): Promise<any> => ((await (await fetch(`${prometheus.url}/api/v1/${path}`)).json()) as any).data;
      const start = Math.floor(Date.now() / 1000) - 600;
      const exemplars = await waitFor(async () => {
        const end = Math.ceil(Date.now() / 1000) + 60;
        const data = await api(`query_exemplars?query=webhook_ingest_duration_seconds_bucket&start=${start}&end=${end}`);
        const found = (data ?? []).flatMap((s: any) => s.exemplars.map((e: any) => e.labels[TRACE_ID_LABEL]));
        return found.length > 0 ? found : undefined;
      }, 20_000).catch((err) => {
        throw new Error(`${(err as Error).message}\n${prometheus.log()}`);
      });
      expect(exemplars).toContain(traceId);
      // The whole exposition parsed: the scrape is up and every family made it in.
      const up = await api('query?query=up');
      expect(up.result.map((r: any) => r.value[1])).toEqual(['1']);
      const received = await api('query?query=webhooks_received_total{status="accepted"}');
      expect(received.result.length).toBeGreaterThan(0);
    } finally {
      await prometheus.dispose();
    }
  });

  it('scrapes the api and the worker on their management port (MANAGEMENT_PORT in docker-compose.yml)', () => {
    const config = parse(readFileSync(PROMETHEUS, 'utf8'));
    const targets = Object.fromEntries(config.scrape_configs.map((s: any) => [s.job_name, s.static_configs[0].targets]));
    expect(targets).toEqual({ 'webhooks-api': ['api:8081'], 'webhooks-worker': ['worker:8081'] });
    expect(config.rule_files).toEqual(['alerts.yml']);
  });

  it('passes promtool check rules, check config and check metrics, and the alert unit tests', () => {
    expect(promtool(['check', 'rules', ALERTS])).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
    // deploy/prometheus/alerts.test.yml: each alert fires on its scenario and stays quiet otherwise.
    expect(promtool(['test', 'rules', ALERT_TESTS])).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
    expect(promtool(['check', 'config', PROMETHEUS])).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
    // Lint problems go to stdout with exit status 3; clean output is silent with status 0.
    expect(promtool(['check', 'metrics'], exposition)).toEqual({ status: 0, output: '' });
  });

  it('has a promtool case where each alert fires, and each stays quiet on a quiet service', () => {
    const alerts: string[] = parse(readFileSync(ALERTS, 'utf8')).groups.flatMap((g: any) =>
      g.rules.map((r: any) => r.alert).filter(Boolean),
    );
    const cases = parse(readFileSync(ALERT_TESTS, 'utf8')).tests.flatMap((t: any) =>
      t.alert_rule_test.map((c: any) => ({ scenario: t.name, ...c })),
    );
    const fires = new Set(cases.filter((c: any) => c.exp_alerts?.length).map((c: any) => c.alertname));
    const quiet = new Set(cases.filter((c: any) => c.scenario.startsWith('a quiet') && !c.exp_alerts?.length).map((c: any) => c.alertname));
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    expect(alerts.filter((a) => !fires.has(a))).toEqual([]);
    expect(alerts.filter((a) => !quiet.has(a))).toEqual([]);
  });
});
