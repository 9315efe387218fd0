// Scenario 5: at least 2,000 generated malformed requests — broken and truncated JSON, wrong types,
// bodies over WEBHOOK_MAX_BODY_BYTES and deeply nested ones, bad and missing signatures, wrong
// content types, unicode edge cases — correctly signed wherever the point is the body. No 5xx, no
// crash, nothing stored; the service still accepts and processes a good delivery afterwards.
// A few edge-valid bodies (RTL text, emoji, combining marks in the values) must be accepted and stored
// unchanged: rejecting everything unusual would pass "nothing stored" for the wrong reason.
import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import { parseDelivery } from '../../src/events/delivery.js';
// The oracle validates as the service does, with every event type it knows.
import '../../src/feedback/feedback-submitted.event.js';
import '../../src/interviews/interview-completed.event.js';
import { createTestDatabase, deliver, RunningService, startService, TEST_SECRET, TestDatabase, waitFor } from '../helpers/service.js';
import { dropQueueKeys, FAST_RECOVERY_ENV, WEBHOOK_URL_PATH } from './harness.js';

const MAX_BODY = 65_536;

interface Case {
  category: string;
  name: string;
  body: Buffer;
  headers: Record<string, string | string[]>;
  /** Over the body limit: the server may answer 413 or cut the upload short (no answer). */
  huge?: boolean;
}

const hmac = (body: Buffer | string, secret = TEST_SECRET) => createHmac('sha256', secret).update(body).digest('hex');
const signed = (body: Buffer, extra: Record<string, string> = {}) => ({
  'content-type': 'application/json',
  'x-webhook-signature': hmac(body),
  ...extra,
});

function baseBodies(i: number): Array<Record<string, unknown>> {
  return [
    {
      event: 'session.feedback_submitted',
      session_id: `bad-f${i}`,
      feedback: { rating: 4, comment: 'Clear questions' },
      timestamp: '2026-11-27T10:00:00Z',
    },
    {
      event: 'interview.completed',
      session_id: `bad-i${i}`,
      invitee_email: `c${i}@example.com`,
      transcript_url: 'https://transcripts.example.com/t/1.json',
      total_minutes: 12.5,
      timestamp: '2026-11-27T10:00:00Z',
    },
  ];
}

/** Keeps a generated body only if the service's own strict parser refuses it (a mutation can be valid by chance). */
function invalid(body: Buffer): boolean {
  return !parseDelivery(body).ok;
}

function generateCases(): Case[] {
  const cases: Case[] = [];
  const add = (category: string, name: string, body: Buffer, headers?: Case['headers'], huge = false) =>
    cases.push({ category, name, body, headers: headers ?? signed(body), huge });

  // 1. Truncated JSON: every prefix of two valid deliveries.
  for (const [b, base] of baseBodies(0).entries()) {
    const raw = Buffer.from(JSON.stringify(base));
    for (let n = 1; n < raw.length; n++) add('truncated JSON', `body ${b} cut at ${n}`, raw.subarray(0, n));
  }

  // 2. Broken JSON: single-byte mutations at every position (kept only when really invalid).
  const breakers = ['{', '}', '[', '"', ',', ':', '\\', ' ', 'x', '\u0000'];
  let seq = 0;
  for (const base of baseBodies(1)) {
    const raw = Buffer.from(JSON.stringify(base));
    for (let pos = 0; pos < raw.length; pos += 1) {
      const ch = breakers[(pos + seq++) % breakers.length];
      const mutated = Buffer.concat([raw.subarray(0, pos), Buffer.from(ch), raw.subarray(pos + 1)]);
      if (invalid(mutated)) add('broken JSON', `byte ${pos} -> ${JSON.stringify(ch)}`, mutated);
    }
  }
  for (const text of [
    '',
    ' ',
    'null',
    'true',
    '0',
    '"string"',
    '[]',
    '[{}]',
    '{}',
    '{"event":}',
    "{'event':'x'}",
    '{"a":1,}',
    'NaN',
    '{"event":"a","session_id":"b"}{"x":1}',
    '\u0000',
    '{"__proto__":{"polluted":1},"event":"x.y","session_id":"p"}',
    '{"constructor":{"prototype":{"x":1}},"event":"x.y","session_id":"c"}',
  ]) {
    const raw = Buffer.from(text);
    if (invalid(raw)) add('broken JSON', `literal ${JSON.stringify(text).slice(0, 40)}`, raw);
  }

  // 3. Wrong types, field by field.
  const wrongValues: unknown[] = [
    null,
    0,
    -1,
    1.5,
    true,
    false,
    [],
    [1, 2],
    {},
    { a: 1 },
    '',
    '   ',
    'x'.repeat(5000),
    'not an email',
    'javascript:alert(1)',
    'ftp://host/x',
    '2026-13-45',
    1e308,
    -1e308,
    'yesterday',
  ];
  let w = 0;
  for (const base of baseBodies(2)) {
    for (const field of ['event', 'session_id', 'invitee_email', 'transcript_url', 'total_minutes', 'timestamp', 'feedback']) {
      for (const value of wrongValues) {
        const raw = Buffer.from(JSON.stringify({ ...base, session_id: `bad-t${w++}`, [field]: value }));
        if (invalid(raw)) add('wrong types', `${field} = ${JSON.stringify(value).slice(0, 30)}`, raw);
      }
    }
    for (const field of ['event', 'session_id']) {
      const copy: Record<string, unknown> = { ...base, session_id: `bad-t${w++}` };
      delete copy[field];
      add('wrong types', `missing ${field}`, Buffer.from(JSON.stringify(copy)));
    }
  }
  for (const env of [
    { type: 5 },
    { type: 'session.feedback_submitted', data: null },
    { type: 'session.feedback_submitted', data: [] },
    { type: 'session.feedback_submitted', data: 'x' },
    { type: 'session.feedback_submitted', data: { session_id: 7 } },
    { type: '', data: { session_id: 'bad-e' } },
  ]) {
    const raw = Buffer.from(JSON.stringify(env));
    if (invalid(raw)) add('wrong types', `envelope ${JSON.stringify(env).slice(0, 40)}`, raw);
  }

  // 4. Deeply nested bodies (within the size limit) and huge ones (over it).
  for (const depth of [33, 64, 500, 5_000, 20_000, 30_000]) {
    const arrays = `{"event":"session.feedback_submitted","session_id":"bad-d${depth}","feedback":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    add('deeply nested', `arrays depth ${depth}`, Buffer.from(arrays));
    const objects = `{"event":"session.feedback_submitted","session_id":"bad-o${depth}","feedback":${'{"a":'.repeat(Math.min(depth, 12_000))}1${'}'.repeat(Math.min(depth, 12_000))}}`;
    if (Buffer.byteLength(objects) <= MAX_BODY) add('deeply nested', `objects depth ${depth}`, Buffer.from(objects));
  }
  for (const size of [MAX_BODY + 1, MAX_BODY * 2, 1_048_576, 5 * 1_048_576]) {
    const pad = 'x'.repeat(size);
    const raw = Buffer.from(
      JSON.stringify({ event: 'session.feedback_submitted', session_id: `bad-h${size}`, feedback: { comment: pad } }),
    );
    add('huge', `${raw.length} bytes`, raw, undefined, true);
  }
  add(
    'huge',
    'nested arrays over the limit',
    Buffer.from(`{"event":"a.b","session_id":"bad-hn","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`),
    undefined,
    true,
  );

  // 5. Bad and missing signatures on otherwise valid bodies.
  const ts = String(Math.floor(Date.now() / 1000));
  const sigVariants: Array<[string, (b: Buffer) => Record<string, string | string[]>]> = [
    ['missing', () => ({})],
    ['empty', () => ({ 'x-webhook-signature': '' })],
    ['wrong secret', (b) => ({ 'x-webhook-signature': hmac(b, 'wrong-secret') })],
    ['63 hex', (b) => ({ 'x-webhook-signature': hmac(b).slice(1) })],
    ['65 hex', (b) => ({ 'x-webhook-signature': `${hmac(b)}0` })],
    ['non-hex', () => ({ 'x-webhook-signature': 'z'.repeat(64) })],
    ['prefix only', () => ({ 'x-webhook-signature': 'sha256=' })],
    ['sha1 prefix', (b) => ({ 'x-webhook-signature': `sha1=${hmac(b)}` })],
    ['latin-1 bytes', () => ({ 'x-webhook-signature': '\u00e9'.repeat(64) })],
    ['other body', () => ({ 'x-webhook-signature': hmac('{"event":"x.y","session_id":"other"}') })],
    ['base64', (b) => ({ 'x-webhook-signature': createHmac('sha256', TEST_SECRET).update(b).digest('base64') })],
    ['two headers, first wrong', (b) => ({ 'x-webhook-signature': ['0'.repeat(64), hmac(b)] })],
    [
      'timestamped, stale',
      (b) => ({
        'x-interviewrelay-signature': hmac(Buffer.concat([Buffer.from(`${Number(ts) - 3600}.`), b])),
        'x-interviewrelay-timestamp': String(Number(ts) - 3600),
      }),
    ],
    [
      'timestamped, future',
      (b) => ({
        'x-interviewrelay-signature': hmac(Buffer.concat([Buffer.from(`${Number(ts) + 3600}.`), b])),
        'x-interviewrelay-timestamp': String(Number(ts) + 3600),
      }),
    ],
    ['timestamped, missing timestamp', (b) => ({ 'x-interviewrelay-signature': hmac(Buffer.concat([Buffer.from(`${ts}.`), b])) })],
    [
      'timestamped, non-numeric timestamp',
      (b) => ({ 'x-interviewrelay-signature': hmac(Buffer.concat([Buffer.from('abc.'), b])), 'x-interviewrelay-timestamp': 'abc' }),
    ],
    ['timestamped, body-only HMAC', (b) => ({ 'x-interviewrelay-signature': hmac(b), 'x-interviewrelay-timestamp': ts })],
    [
      'new header wrong, old right',
      (b) => ({ 'x-interviewrelay-signature': '0'.repeat(64), 'x-interviewrelay-timestamp': ts, 'x-webhook-signature': hmac(b) }),
    ],
  ];
  for (let i = 0; i < 15; i++) {
    for (const base of baseBodies(100 + i)) {
      const raw = Buffer.from(JSON.stringify({ ...base, session_id: `${String(base.session_id)}-sig` }));
      for (const [name, make] of sigVariants) add('bad signatures', name, raw, { 'content-type': 'application/json', ...make(raw) });
    }
  }

  // 6. Wrong content types on correctly signed, otherwise valid deliveries.
  const contentTypes = [
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'text/json',
    'application/jsonx',
    'application/octet-stream',
    'application/json-patch+json',
    'application/x-json',
    '',
  ];
  for (let i = 0; i < 12; i++) {
    for (const base of baseBodies(200 + i)) {
      const json = Buffer.from(JSON.stringify(base));
      for (const ct of contentTypes) {
        const headers: Record<string, string> = { 'x-webhook-signature': hmac(json) };
        if (ct) headers['content-type'] = ct;
        add('wrong content types', ct || '(none)', json, headers);
      }
      // A form body that carries the fields, signed: still not a platform delivery.
      const form = Buffer.from(
        new URLSearchParams({ event: String(base.event), session_id: `${String(base.session_id)}-form` }).toString(),
      );
      add('wrong content types', 'form-encoded fields', form, {
        'content-type': 'application/x-www-form-urlencoded',
        'x-webhook-signature': hmac(form),
      });
    }
  }

  // 7. Unicode edge cases, signed: NUL, lone surrogates, invalid/overlong UTF-8, UTF-16, BOM + broken
  // JSON, RTL overrides and emoji where the schema does not allow them.
  const json = (s: string) => Buffer.from(s, 'utf8');
  const u = (id: string) =>
    [
      ['escaped NUL in session_id', json(`{"event":"session.feedback_submitted","session_id":"bad-${id}\\u0000x","feedback":{}}`)],
      [
        'escaped NUL in comment',
        json(`{"event":"session.feedback_submitted","session_id":"bad-${id}","feedback":{"comment":"a\\u0000b"}}`),
      ],
      ['escaped NUL in a key', json(`{"event":"session.feedback_submitted","session_id":"bad-${id}","feedback":{"a\\u0000":1}}`)],
      [
        'raw NUL byte in a string',
        Buffer.concat([json(`{"event":"session.feedback_submitted","session_id":"bad-${id}`), Buffer.from([0]), json('"}')]),
      ],
      ['lone high surrogate', json(`{"event":"session.feedback_submitted","session_id":"bad-${id}\\ud800","feedback":{}}`)],
      ['lone low surrogate', json(`{"event":"session.feedback_submitted","session_id":"bad-${id}","feedback":{"c":"\\udfff"}}`)],
      [
        'reversed surrogate pair',
        json(`{"event":"session.feedback_submitted","session_id":"bad-${id}","feedback":{"c":"\\udc00\\ud800"}}`),
      ],
      [
        'CESU-8 surrogate bytes',
        Buffer.concat([json(`{"event":"session.feedback_submitted","session_id":"bad-${id}`), Buffer.from([0xed, 0xa0, 0x80]), json('"}')]),
      ],
      [
        'overlong slash C0 AF',
        Buffer.concat([json(`{"event":"session.feedback_submitted","session_id":"bad-${id}`), Buffer.from([0xc0, 0xaf]), json('"}')]),
      ],
      [
        'overlong 3-byte',
        Buffer.concat([json(`{"event":"session.feedback_submitted","session_id":"bad-${id}`), Buffer.from([0xe0, 0x80, 0xaf]), json('"}')]),
      ],
      [
        'overlong 4-byte',
        Buffer.concat([
          json(`{"event":"session.feedback_submitted","session_id":"bad-${id}`),
          Buffer.from([0xf0, 0x80, 0x80, 0xaf]),
          json('"}'),
        ]),
      ],
      [
        'invalid byte FF',
        Buffer.concat([json(`{"event":"session.feedback_submitted","session_id":"bad-${id}`), Buffer.from([0xff]), json('"}')]),
      ],
      [
        'invalid byte FE in comment',
        Buffer.concat([
          json(`{"event":"session.feedback_submitted","session_id":"bad-${id}","feedback":{"c":"`),
          Buffer.from([0xfe]),
          json('"}}'),
        ]),
      ],
      [
        'truncated multibyte',
        Buffer.concat([json(`{"event":"session.feedback_submitted","session_id":"bad-${id}`), Buffer.from([0xe2, 0x82]), json('"}')]),
      ],
      [
        'code point above U+10FFFF',
        Buffer.concat([
          json(`{"event":"session.feedback_submitted","session_id":"bad-${id}`),
          Buffer.from([0xf4, 0x90, 0x80, 0x80]),
          json('"}'),
        ]),
      ],
      [
        'UTF-16LE body with BOM',
        Buffer.concat([
          Buffer.from([0xff, 0xfe]),
          Buffer.from(`{"event":"session.feedback_submitted","session_id":"bad-${id}"}`, 'utf16le'),
        ]),
      ],
      [
        'UTF-8 BOM + broken JSON',
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json(`{"event":"session.feedback_submitted","session_id":"bad-${id}"`)]),
      ],
      ['RTL override in event', json(`{"event":"session.\u202efeedback_submitted","session_id":"bad-${id}"}`)],
      ['emoji event', json(`{"event":"\ud83d\udd25.\ud83d\udd25","session_id":"bad-${id}"}`)],
      ['RTL email', json(`{"event":"interview.completed","session_id":"bad-${id}","invitee_email":"\u05e9\u05dc\u05d5\u05dd@\u202e"}`)],
      ['emoji transcript URL scheme', json(`{"event":"interview.completed","session_id":"bad-${id}","transcript_url":"\ud83d\udd25://x"}`)],
      ['zero-width session_id', json(`{"event":"session.feedback_submitted","session_id":"   ","feedback":{}}`)],
    ] as Array<[string, Buffer]>;
  for (let i = 0; i < 25; i++) {
    for (const [name, raw] of u(`u${i}`)) if (invalid(raw)) add('unicode', name, raw);
  }
  return cases;
}

/** Edge-valid deliveries: must be accepted and stored with exactly these strings. */
function controls(): Array<{ key: string; sessionId: string; comment: string; body: Buffer }> {
  const values = [
    ['ok-rtl-\u05e9\u05dc\u05d5\u05dd-\u202e', 'مرحبا بالعالم \u200f RTL'],
    ['ok-emoji-\ud83d\ude80\ud83d\udc4d', 'Great \ud83d\udc4d\ud83c\udffd family \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67'],
    ['ok-combining-e\u0301\u0327', 'Z\u0351\u0352alg\u0337o \u00e9 vs e\u0301'],
    ['ok-astral-\ud800\udc00', 'Linear B \ud800\udc00 and CJK \u4f60\u597d'],
  ];
  return values.map(([sessionId, comment]) => {
    const body = Buffer.from(
      JSON.stringify({ event: 'session.feedback_submitted', session_id: sessionId, feedback: { rating: 5, comment } }),
    );
    return { key: `session.feedback_submitted:${sessionId}`, sessionId, comment, body };
  });
}

function send(agent: Agent, port: number, c: Pick<Case, 'body' | 'headers'>): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path: WEBHOOK_URL_PATH,
        method: 'POST',
        headers: { ...c.headers, 'content-length': String(c.body.length) },
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 300) }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, body: '' }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end(c.body);
  });
}

describe('reliability 5: bad input', () => {
  let db: TestDatabase;
  let svc: RunningService | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await dropQueueKeys(svc?.env.REDIS_URL, svc?.env.QUEUE_PREFIX);
    await db?.drop();
  });

  it('answers every malformed request with a 4xx, stores nothing, keeps serving', async () => {
    svc = await startService({ ...FAST_RECOVERY_ENV, DATABASE_URL: db.url, WEBHOOK_MAX_BODY_BYTES: String(MAX_BODY) });
    const cases = generateCases();
    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    const results = new Array<{ status: number; body: string }>(cases.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let i = next++; i < cases.length; i = next++) results[i] = await send(agent, svc!.port, cases[i]);
      }),
    );
    agent.destroy();

    const byCategory = new Map<string, Record<string, number>>();
    const failures: string[] = [];
    cases.forEach((c, i) => {
      const { status, body } = results[i];
      const counts = byCategory.get(c.category) ?? {};
      const label = status === 0 ? 'no answer' : String(status);
      counts[label] = (counts[label] ?? 0) + 1;
      byCategory.set(c.category, counts);
      const ok = (status >= 400 && status < 500) || (status === 0 && c.huge);
      if (!ok) failures.push(`${c.category} / ${c.name}: ${label} ${body}`);
    });

    // Edge-valid controls after the storm: accepted and stored unchanged.
    const controlResults = [];
    for (const ctl of controls()) {
      const res = await send(new Agent(), svc.port, { body: ctl.body, headers: signed(ctl.body) });
      controlResults.push(res.status);
      if (res.status !== 200) failures.push(`control ${ctl.sessionId}: ${res.status} ${res.body}`);
    }
    const stored = await db.query<{ idempotency_key: string; payload: any }>('SELECT idempotency_key, payload FROM webhook_events');
    const controlKeys = new Map(controls().map((c) => [c.key, c]));
    const strays = stored.filter((r) => !controlKeys.has(r.idempotency_key));
    for (const r of stored) {
      const ctl = controlKeys.get(r.idempotency_key);
      if (ctl && r.payload?.feedback?.comment !== ctl.comment)
        failures.push(`control ${ctl.sessionId} stored altered: ${JSON.stringify(r.payload?.feedback?.comment)}`);
    }

    // A good delivery afterwards is accepted and processed.
    const good = await deliver(svc.baseUrl, {
      event: 'session.feedback_submitted',
      session_id: 'after-bad-input',
      feedback: { rating: 5 },
    });
    const processed = await waitFor(
      async () => (await db.query(`SELECT 1 FROM feedback WHERE session_id = 'after-bad-input'`)).length === 1,
      30_000,
    ).catch(() => false);

    const fiveXX = results.filter((r) => r.status >= 500).length;
    const lines = [
      `\n── 5. bad input: ${cases.length} malformed requests`,
      ...[...byCategory].map(([cat, counts]) => `   ${cat}: ${JSON.stringify(counts)}`),
      `   5xx ${fiveXX} · 2xx ${results.filter((r) => r.status >= 200 && r.status < 300).length} · malformed rows stored ${strays.length} · edge-valid controls ${JSON.stringify(controlResults)} · good delivery afterwards ${good.status}${processed ? ', processed' : ', NOT processed'} · service ${svc.process.exitCode === null ? 'running' : `exited ${svc.process.exitCode}`}`,
      ...failures.slice(0, 15).map((f) => `   PROBLEM: ${f}`),
      ...(failures.length > 15 ? [`   … and ${failures.length - 15} more`] : []),
      ...strays.slice(0, 10).map((r) => `   STORED: ${r.idempotency_key} ${JSON.stringify(r.payload).slice(0, 120)}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);

    expect(cases.length).toBeGreaterThanOrEqual(2000);
    expect(svc.process.exitCode).toBeNull();
    expect(fiveXX).toBe(0);
    expect(failures).toEqual([]);
    expect(strays.map((r) => r.idempotency_key)).toEqual([]);
    expect(good.status).toBe(200);
    expect(processed).toBe(true);
  });
});
