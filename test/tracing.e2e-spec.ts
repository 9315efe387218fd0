import { createHmac } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { json, Peer, startPeer } from './helpers/peers.js';
import {
  createTestDatabase,
  deliver,
  queuePrefix,
  holdInbox,
  RunningService,
  startService,
  TEST_SECRET,
  TestDatabase,
  waitFor,
} from './helpers/service.js';

// One delivery, one trace, across an api and a worker process: the service exports its spans over
// OTLP/HTTP (JSON) to a receiver in this test process, which checks their structure and scans them
// for the personal data planted in the deliveries.

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
  events?: Array<{ name: string; attributes?: OtlpAttribute[] }>;
  links?: Array<{ traceId: string; spanId: string }>;
  status?: { code?: number; message?: string };
}
interface Span extends OtlpSpan {
  attrs: Record<string, unknown>;
  role: string;
  instance: string;
}

const STATUS_ERROR = 2;
const ADMIN_TOKEN = 'tracing-admin-token-0123456789';

const valueOf = (v: OtlpValue): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
const attrsOf = (list: OtlpAttribute[] = []) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/** An OTLP/HTTP receiver for traces (JSON encoding): every span, and every request body as received. */
async function startReceiver(): Promise<{ url: string; spans: Span[]; bodies: string[]; close(): Promise<void> }> {
  const spans: Span[] = [];
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      const parsed = JSON.parse(body) as {
        resourceSpans: Array<{ resource: { attributes: OtlpAttribute[] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
      };
      for (const rs of parsed.resourceSpans ?? []) {
        const resource = attrsOf(rs.resource.attributes);
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({
              ...s,
              attrs: attrsOf(s.attributes),
              role: String(resource['app.role']),
              instance: String(resource['service.instance.id']),
            });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// Personal data planted in the deliveries: none of it may reach a span.
const EMAIL = 'tracemarker.candidate@example.com';
const TRANSCRIPT_TEXT = 'Tracemarker transcript sentence';
const COMMENT = 'Tracemarker feedback comment';
const URL_TOKEN = 'tracemarkertoken42';
const SLACK_SECRET = 'TraceMarkerSlackSecret';

describe('tracing: one trace per delivery across the api and worker processes', () => {
  let db: TestDatabase;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let host: Peer;
  let slack: Peer;
  let api: RunningService;
  let worker: RunningService;
  const signatures: string[] = [];

  beforeAll(async () => {
    [db, receiver, host, slack] = await Promise.all([createTestDatabase(), startReceiver(), startPeer(), startPeer()]);
    // A Slack webhook URL's path is its secret.
    slack.route(`/services/T0/B0/${SLACK_SECRET}`, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    // The flaky transcript fails once (503), then answers; the missing one is a 404 (dead letter).
    let flakyCalls = 0;
    host.route('/t/flaky.json', (_req, res) =>
      ++flakyCalls === 1 ? json(res, 503, {}) : json(res, 200, { lines: [{ speaker: 'candidate', text: TRANSCRIPT_TEXT }] }),
    );
    host.route('/t/missing.json', (_req, res) => json(res, 404, {}));
    const env = {
      DATABASE_URL: db.url,
      QUEUE_PREFIX: queuePrefix('tracing'),
      TRANSCRIPT_ALLOWED_HOSTS: host.host,
      SLACK_WEBHOOK_URL: `${slack.url}/services/T0/B0/${SLACK_SECRET}`,
      ADMIN_TOKEN,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    };
    // The api first: it runs the migrations, the worker then finds them applied.
    api = await startService({ ...env, APP_ROLE: 'api' }, { timeoutMs: 50_000 });
    worker = await startService({ ...env, APP_ROLE: 'worker', LOG_LEVEL: 'info' }, { timeoutMs: 50_000 });
  }, 110_000);

  afterAll(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    await Promise.all([receiver?.close(), host?.close(), slack?.close()]);
    await db?.drop();
  });

  const post = async (body: object) => {
    const raw = JSON.stringify(body);
    signatures.push(createHmac('sha256', TEST_SECRET).update(raw).digest('hex'));
    const res = await deliver(api.baseUrl, body, { raw });
    expect(res.status).toBe(200);
    return res.body as { id: string };
  };
  const interview = (sessionId: string, path: string) => ({
    event: 'interview.completed',
    session_id: sessionId,
    invitee_email: EMAIL,
    total_minutes: 12,
    transcript_url: `${host.url}${path}?token=${URL_TOKEN}`,
  });
  const feedback = (sessionId: string) => ({
    event: 'session.feedback_submitted',
    session_id: sessionId,
    feedback: { rating: 4, comment: COMMENT },
  });
  const rowOf = async (id: string) =>
    (await db.query<{ status: string; trace_id: string | null }>(`SELECT status, trace_id FROM webhook_events WHERE id = $1`, [id]))[0];
  const traceOf = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
  const named = (spans: Span[], name: string) => spans.filter((s) => s.name === name);

  it('exports each delivery as one trace holding the api and worker spans, linked from its batch job, with errors, dead letters and log lines pointing at it', async () => {
    // Sent together, held back until they share an INSERT and a batch job (holdInbox).
    const inbox = await holdInbox(db.url);
    const sent = Promise.all([
      post(interview('tr-flaky', '/t/flaky.json')),
      post(interview('tr-dead', '/t/missing.json')),
      ...Array.from({ length: 10 }, (_, i) => post(feedback(`tr-fb-${i}`))),
    ]);
    await inbox.release();
    const [flaky, dead, ...feedbacks] = await sent;
    const all = [flaky, dead, ...feedbacks];
    await waitFor(async () => {
      const rows = await Promise.all(all.map((d) => rowOf(d.id)));
      return rows.every((r) => r.status === 'processed' || r.status === 'failed');
    }, 30_000);
    expect((await rowOf(flaky.id)).status).toBe('processed');
    expect((await rowOf(dead.id)).status).toBe('failed');

    // Every row names its delivery's trace, a different one each; the admin API shows it.
    const traceIds = await Promise.all(all.map(async (d) => (await rowOf(d.id)).trace_id!));
    for (const id of traceIds) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(traceIds).size).toBe(all.length);
    const view = await fetch(`${api.baseUrl}/admin/events/${dead.id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(((await view.json()) as { trace_id: string }).trace_id).toBe(traceIds[1]);

    // Each trace is complete once its outcome span arrived (the worker exports every 100 ms).
    const [flakyTrace, deadTrace] = traceIds;
    await waitFor(async () => {
      const done = traceIds.every((id) => named(traceOf(id), 'event.outcome').some((s) => s.attrs['event.outcome'] !== 'retry'));
      return done && named(traceOf(flakyTrace), 'slack.post').length > 0;
    }, 20_000);

    for (const id of traceIds) {
      const spans = traceOf(id);
      // Spans from both processes, each kind where it belongs.
      expect(new Set(spans.map((s) => s.role))).toEqual(new Set(['api', 'worker']));
      expect(new Set(spans.map((s) => s.instance)).size).toBe(2);
      for (const name of ['webhook.verify_signature', 'inbox.write', 'queue.enqueue']) {
        expect(named(spans, name).map((s) => s.role)).toContain('api');
      }
      for (const name of ['event.handle', 'event.outcome']) expect(named(spans, name).map((s) => s.role)).toContain('worker');
      // Parents: one root (the delivery's HTTP server span); every other span's parent is in the trace.
      const ids = new Set(spans.map((s) => s.spanId));
      const roots = spans.filter((s) => !s.parentSpanId);
      expect(roots).toHaveLength(1);
      expect(roots[0].role).toBe('api');
      expect(spans.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId))).toEqual([]);
      // The worker's first span continues from the api's enqueue span.
      const enqueue = named(spans, 'queue.enqueue').filter((s) => s.role === 'api');
      const firstWorkerSpans = spans.filter((s) => s.role === 'worker' && enqueue.some((e) => e.spanId === s.parentSpanId));
      expect(firstWorkerSpans.map((s) => s.name)).toEqual(expect.arrayContaining([expect.stringMatching(/^(event|job)\.process$/)]));
      expect(named(spans, 'event.handle').every((s) => typeof s.attrs['event.type'] === 'string')).toBe(true);
    }

    // The batch job: a trace of its own, linking each delivery it carried; their event spans link back.
    const batchJobs = receiver.spans.filter((s) => s.name === 'job.process' && Number(s.attrs['batch.size']) > 1);
    expect(batchJobs.length).toBeGreaterThan(0);
    for (const job of batchJobs) {
      expect(job.role).toBe('worker');
      const linked = (job.links ?? []).map((l) => l.traceId);
      expect(linked.length).toBe(job.attrs['batch.size']);
      for (const traceId of linked) {
        expect(traceIds).toContain(traceId);
        const eventSpan = named(traceOf(traceId), 'event.process').find((s) => s.attrs['job.id'] === job.attrs['job.id']);
        expect(eventSpan?.links).toEqual([expect.objectContaining({ traceId: job.traceId, spanId: job.spanId })]);
      }
    }

    // The flaky transcript: the failed attempt is an error with its exception; the retry succeeded.
    const flakySpans = traceOf(flakyTrace);
    const downloads = named(flakySpans, 'transcript.download');
    expect(downloads.map((s) => s.status?.code ?? 0).sort()).toEqual([0, STATUS_ERROR]);
    const failedAttempt = flakySpans.find((s) => /^(event|job)\.process$/.test(s.name) && s.status?.code === STATUS_ERROR)!;
    expect(failedAttempt.events?.map((e) => e.name)).toContain('exception');
    expect(named(flakySpans, 'event.outcome').map((s) => s.attrs['event.outcome'])).toEqual(expect.arrayContaining(['retry', 'processed']));
    expect(named(flakySpans, 'job.process').some((s) => Number(s.attrs['job.attempt']) >= 1 && s.status?.code !== STATUS_ERROR)).toBe(true);
    expect(named(flakySpans, 'slack.post')).toHaveLength(1);
    expect(slack.requests).toHaveLength(1);

    // The dead letter: its outcome span says so and is an error; so is the attempt's span.
    const deadSpans = traceOf(deadTrace);
    const [deadOutcome] = named(deadSpans, 'event.outcome');
    expect(deadOutcome.attrs).toMatchObject({ 'event.outcome': 'dead_letter', dead_letter: true });
    expect(deadOutcome.status?.code).toBe(STATUS_ERROR);
    expect(deadOutcome.events?.map((e) => e.name)).toEqual(expect.arrayContaining(['dead_letter', 'exception']));
    expect(
      deadSpans.some((s) => /^(event|job)\.process$/.test(s.name) && s.attrs.dead_letter === true && s.status?.code === STATUS_ERROR),
    ).toBe(true);

    // A replay continues the delivery's trace: its enqueue (api) and its new attempt (worker) join it,
    // the enqueue linked to the admin request that asked for it.
    const replay = await fetch(`${api.baseUrl}/admin/events/${dead.id}/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(replay.status).toBeLessThan(300);
    await waitFor(async () => named(traceOf(deadTrace), 'event.outcome').length === 2, 20_000);
    const [replayEnqueue] = named(traceOf(deadTrace), 'queue.enqueue').filter((s) => s.attrs['queue.enqueue_reason'] === 'replay');
    expect(replayEnqueue).toMatchObject({
      role: 'api',
      links: [expect.objectContaining({ traceId: expect.not.stringMatching(deadTrace) })],
    });
    expect(named(traceOf(deadTrace), 'job.process').filter((s) => s.parentSpanId === replayEnqueue.spanId)).toHaveLength(1);

    // Log lines written inside a traced operation name its trace and span: the worker's warning about
    // the failed attempt points at a span of the flaky delivery's trace.
    const lines = worker
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const retryLine = lines.find((l) => String(l.msg).includes(flaky.id) && String(l.msg).includes('will retry'));
    expect(retryLine).toMatchObject({ trace_id: flakyTrace });
    expect(flakySpans.map((s) => s.spanId)).toContain(retryLine!.span_id);
    const traced = lines.filter((l) => l.trace_id !== undefined);
    expect(traced.every((l) => /^[0-9a-f]{32}$/.test(String(l.trace_id)) && /^[0-9a-f]{16}$/.test(String(l.span_id)))).toBe(true);

    // No personal data anywhere in what was exported: names, attributes, events, links, resources.
    const exported = receiver.bodies.join('\n').toLowerCase();
    const markers = [EMAIL, TRANSCRIPT_TEXT, COMMENT, URL_TOKEN, SLACK_SECRET, TEST_SECRET, ...signatures];
    expect(markers.filter((m) => exported.includes(m.toLowerCase()))).toEqual([]);
  }, 80_000);
});
