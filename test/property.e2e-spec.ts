import fc from 'fast-check';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { faithfulJson } from '../src/common/faithful-json.js';
import { signDelivery } from '../src/webhooks/webhook-signature.js';
import { createTestDatabase, RunningService, startService, TestDatabase, TEST_SECRET } from './helpers/service.js';

/*
 * Property-based suite for POST /webhooks/ai-interview against the built service (the real AppModule),
 * PostgreSQL and Redis. Each fast-check run is a scenario: a small pool of (event, session_id) pairs
 * and 1–16 requests on it (valid deliveries, near-valid ones, arbitrary JSON and bytes, good and bad
 * header sets), sent 8 at a time, then checked against an oracle that judges every request from the
 * bytes and headers actually sent, independently of the service code:
 *   1. no 5xx, and every request is answered (a body over the size limit may instead be cut off
 *      by the service closing the connection after its 413: counted, not a failure);
 *   2. a 2xx only for a correctly signed JSON object with a valid event and session_id (and always
 *      a 200 for a textbook-valid delivery);
 *   3. every 2xx id is a row whose event/session_id columns are the delivery's (after envelope
 *      normalisation and trimming) and whose payload is the first accepted delivery's, unchanged by
 *      duplicates; exactly one `accepted` per new pair, every other answer `duplicate` with its id;
 *   4. different pairs never share a row, and no row appears without a 2xx.
 *
 * Replay: PROPERTY_SEED=<seed> [PROPERTY_PATH=<path>] [PROPERTY_RUNS=<n>] npm run test:e2e -- test/property.e2e-spec.ts
 * A scenario carries a fresh namespace in its session ids, so a replayed path behaves as it did.
 */

const RUNS = Number(process.env.PROPERTY_RUNS || 1000);
const SEED = process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : Math.floor(Math.random() * 0x7fffffff);
if (!Number.isSafeInteger(SEED) || !Number.isSafeInteger(RUNS) || RUNS < 1)
  throw new Error('PROPERTY_SEED and PROPERTY_RUNS must be integers');
const REPLAY_PATH = process.env.PROPERTY_PATH || undefined;
// Safety net on a busy machine (shrinking included); the runs normally end well before it.
const TIME_LIMIT_MS = Number(process.env.PROPERTY_TIME_LIMIT_MS ?? 120_000);
const IN_FLIGHT = 8;
// The service's defaults (WEBHOOK_MAX_BODY_BYTES, WEBHOOK_TOLERANCE_SECONDS are left unset).
const MAX_BODY_BYTES = 1_048_576;
const MAX_DEPTH = 32;
const WEBHOOK_PATH = '/webhooks/ai-interview';

// ---------------------------------------------------------------------------------------------
// JSON and the oracle
// ---------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Verdict = 'accept' | 'maybe' | 'reject';

const GOOD_EMAILS = ['ada@example.com', 'o.brien+tag@mail.example.org'];
// Loopback and private hosts: the worker's transcript guard refuses them without a network attempt.
const GOOD_URLS = ['https://127.0.0.1/transcripts/1.json', 'http://10.0.0.1:8080/t?session=1'];
const GOOD_TIMESTAMPS = ['2026-11-27T10:00:00Z', '2026-11-27T10:00:00.123+01:00'];
const GOOD_CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8'];
const EVENT_NAME = /^[\w.:-]+$/;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function worse(a: Verdict, b: Verdict): Verdict {
  if (a === 'reject' || b === 'reject') return 'reject';
  return a === 'maybe' || b === 'maybe' ? 'maybe' : 'accept';
}

interface BodyJudgement {
  verdict: Verdict;
  why: string;
  /** When not rejected: the normalised delivery, as it must be stored. */
  event?: string;
  sessionId?: string;
  payload?: JsonObject;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Judges the raw bytes against the documented payload rules, without the service's code. */
function judgeBody(raw: Buffer): BodyJudgement {
  if (raw.length === 0) return { verdict: 'reject', why: 'empty body' };
  if (raw.length > MAX_BODY_BYTES) return { verdict: 'reject', why: 'body over the size limit' };
  let text: string;
  try {
    text = strictUtf8.decode(raw);
  } catch {
    return { verdict: 'reject', why: 'not UTF-8' };
  }
  let verdict: Verdict = 'accept';
  let why = 'valid delivery';
  // RFC 8259 forbids a BOM but lets parsers ignore one.
  if (text.startsWith('\ufeff')) {
    text = text.slice(1);
    verdict = 'maybe';
    why = 'leading BOM';
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { verdict: 'reject', why: 'not JSON' };
  }
  if (!isObject(body)) return { verdict: 'reject', why: 'not a JSON object' };
  if (scanTree(body).depth <= MAX_DEPTH) body = faithfulJson(text);
  if (!isObject(body)) return { verdict: 'reject', why: 'not a JSON object' };
  const scan = scanTree(body);
  if (scan.unstorable) return { verdict: 'reject', why: 'NUL or lone surrogate' };
  if (scan.depth > MAX_DEPTH) return { verdict: 'reject', why: `nested ${scan.depth} deep` };
  if (scan.protoKeys) {
    // Valid JSON that Fastify's prototype-poisoning check may refuse.
    verdict = 'maybe';
    why = '__proto__ or constructor.prototype key';
  }
  if (scan.beyondDoubles) {
    // A literal like 1e400: refusing it is fine, storing it as anything but that number is not.
    verdict = 'maybe';
    why = 'number beyond double range';
  }

  let candidate: JsonObject = body;
  if (body.event === undefined && typeof body.type === 'string') {
    if (!isObject(body.data)) return { verdict: 'reject', why: 'envelope without a data object' };
    candidate = { ...body.data, event: body.type };
  }
  if (typeof candidate.event !== 'string') return { verdict: 'reject', why: 'event not a string' };
  if (typeof candidate.session_id !== 'string') return { verdict: 'reject', why: 'session_id not a string' };
  const event = candidate.event.trim();
  const sessionId = candidate.session_id.trim();
  if (event.length < 1 || event.length > 200 || !EVENT_NAME.test(event)) return { verdict: 'reject', why: 'bad event name' };
  if (sessionId.length < 1 || [...sessionId].length > 256) return { verdict: 'reject', why: 'bad session_id length' };
  if (sessionId.length > 256) {
    // 256 code points but more UTF-16 units: "256 characters" can be read either way.
    verdict = 'maybe';
    why = 'session_id of 256 code points, more UTF-16 units';
  }

  // Every delivery's timestamp is checked; the other fields only for the event type they belong to.
  const checks: Record<string, (v: Json) => Verdict> = {
    invitee_email: (v) => (typeof v !== 'string' ? 'reject' : GOOD_EMAILS.includes(v) ? 'accept' : 'maybe'),
    transcript_url: (v) => (typeof v !== 'string' ? 'reject' : GOOD_URLS.includes(v) ? 'accept' : 'maybe'),
    timestamp: (v) => (typeof v !== 'string' ? 'reject' : GOOD_TIMESTAMPS.includes(v) ? 'accept' : 'maybe'),
    total_minutes: (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100_000 ? 'accept' : 'reject'),
    feedback: (v) => (isObject(v) ? 'accept' : 'reject'),
  };
  const fieldsOf: Record<string, string[]> = {
    'interview.completed': ['invitee_email', 'transcript_url', 'total_minutes'],
    'session.feedback_submitted': ['feedback'],
  };
  const optional = ['timestamp', ...(fieldsOf[event] ?? [])].map((field) => [field, checks[field]] as const);
  for (const [field, check] of optional) {
    const value = candidate[field];
    if (value === undefined) continue;
    const v = check(value);
    if (v === 'reject') return { verdict: 'reject', why: `bad ${field}` };
    if (v === 'maybe' && verdict === 'accept') why = `unusual ${field}`;
    verdict = worse(verdict, v);
  }
  return { verdict, why, event, sessionId, payload: { ...candidate, event, session_id: sessionId } };
}

function scanTree(root: JsonObject): { unstorable: boolean; depth: number; protoKeys: boolean; beyondDoubles: boolean } {
  const storable = (s: string) => !s.includes('\u0000') && s.isWellFormed();
  let depth = 0;
  let protoKeys = false;
  let beyondDoubles = false;
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, d] = stack.pop()!;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) beyondDoubles = true;
    } else if (typeof value === 'string') {
      if (!storable(value)) return { unstorable: true, depth, protoKeys, beyondDoubles };
    } else if (Array.isArray(value)) {
      depth = Math.max(depth, d);
      for (const item of value) stack.push([item, d + 1]);
    } else if (isObject(value)) {
      depth = Math.max(depth, d);
      for (const [key, item] of Object.entries(value)) {
        if (!storable(key)) return { unstorable: true, depth, protoKeys, beyondDoubles };
        if (key === '__proto__' || (key === 'constructor' && isObject(item) && 'prototype' in item)) protoKeys = true;
        stack.push([item, d + 1]);
      }
    }
  }
  return { unstorable: false, depth, protoKeys, beyondDoubles };
}

type SentHeaders = Record<string, string | string[]>;

function headerLines(headers: SentHeaders, name: string): string[] {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) lines.push(...(Array.isArray(v) ? v : [v]));
  return lines;
}

function judgeContentType(headers: SentHeaders): Verdict {
  const lines = headerLines(headers, 'content-type');
  const media = (v: string) => v.split(';', 1)[0].trim().toLowerCase();
  if (lines.length === 1 && GOOD_CONTENT_TYPES.includes(lines[0])) return 'accept';
  // Case, spacing, other charsets, duplicate lines: not clearly wrong, not clearly right.
  return lines.some((l) => media(l) === 'application/json') ? 'maybe' : 'reject';
}

const hmacHex = (...parts: Array<string | Buffer>) => {
  const mac = createHmac('sha256', TEST_SECRET);
  for (const p of parts) mac.update(p);
  return mac.digest('hex');
};

/**
 * Either scheme with TEST_SECRET: X-Webhook-Signature = hex HMAC of the raw body, or
 * X-InterviewRelay-Signature = hex HMAC of `${timestamp}.${body}` with a fresh
 * X-InterviewRelay-Timestamp (the service allows 300 s; under 60 s counts as fresh, over 400 s as stale).
 */
function judgeSignature(raw: Buffer, headers: SentHeaders, nowSeconds: number): Verdict {
  const plain = headerLines(headers, 'x-webhook-signature');
  const tsSig = headerLines(headers, 'x-interviewrelay-signature');
  const ts = headerLines(headers, 'x-interviewrelay-timestamp');
  const bodyMac = hmacHex(raw);
  const age = (t: string) => (/^\s*\d+\s*$/.test(t) ? Math.abs(nowSeconds - Number(t.trim())) : Infinity);
  const loose = (v: string) =>
    v
      .trim()
      .toLowerCase()
      .replace(/^sha256=/, '');

  const plainClean = plain.length === 1 && plain[0] === bodyMac;
  const tsClean =
    tsSig.length === 1 && ts.length === 1 && /^\d+$/.test(ts[0]) && age(ts[0]) <= 60 && tsSig[0] === hmacHex(`${ts[0]}.`, raw);
  if ((plainClean && tsSig.length === 0 && ts.length === 0) || (tsClean && plain.length === 0)) return 'accept';

  const plainLoose = plain.some((v) => loose(v) === bodyMac);
  const tsLoose = tsSig.some((s) => ts.some((t) => age(t) < 400 && [t, t.trim()].some((tt) => loose(s) === hmacHex(`${tt}.`, raw))));
  return plainLoose || tsLoose ? 'maybe' : 'reject';
}

interface Judgement extends BodyJudgement {
  signature: Verdict;
  contentType: Verdict;
}

function judge(raw: Buffer, headers: SentHeaders, nowSeconds: number): Judgement {
  const body = judgeBody(raw);
  const signature = judgeSignature(raw, headers, nowSeconds);
  const contentType = judgeContentType(headers);
  // A compressed-looking body the service may refuse (it is plain JSON here).
  const encoding = headerLines(headers, 'content-encoding').every((v) => v === 'identity') ? 'accept' : 'maybe';
  return { ...body, signature, contentType, verdict: worse(body.verdict, worse(worse(signature, contentType), encoding)) };
}

/** JSON equality as JavaScript reads it (doubles: -0 equals 0, key order ignored). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as JsonObject)[k], (b as JsonObject)[k]));
}

// ---------------------------------------------------------------------------------------------
// Generators: specs stay small (fast-check prints and shrinks them); bytes are built at send time
// ---------------------------------------------------------------------------------------------

/** Session ids are `${core}${namespace}`; the namespace is fresh per scenario. */
interface PairSpec {
  event: string;
  core: string;
}

type Mutation =
  | { op: 'set'; field: string; value: Json }
  | { op: 'delete'; field: string }
  | { op: 'pad'; field: 'event' | 'session_id'; left: string; right: string }
  | { op: 'append'; field: 'event' | 'session_id'; suffix: string }
  | { op: 'length'; field: 'event' | 'session_id'; length: number }
  | { op: 'envelope'; change: 'data-array' | 'data-string' | 'data-null' | 'type-number' | 'event-too' | 'data-event-differs' };

type Format = { kind: 'compact' | 'pretty' | 'escaped' | 'bom' | 'dupkey' } | { kind: 'literal'; literal: string };

interface DeliverySpec {
  pair: number;
  envelope: boolean;
  fields: JsonObject;
  extras: JsonObject;
  envelopeExtras: JsonObject;
}

type BodySpec =
  | { kind: 'delivery'; delivery: DeliverySpec; mutation: Mutation | null; format: Format }
  | { kind: 'corrupt'; delivery: DeliverySpec; op: 'flip' | 'delete' | 'insert' | 'truncate'; at: number; byte: number }
  | { kind: 'deep'; delivery: DeliverySpec; levels: number; container: 'array' | 'object' }
  | { kind: 'big'; delivery: DeliverySpec; overLimitBy: number }
  | { kind: 'json'; value: Json }
  | { kind: 'bytes'; bytes: number[] };

type SigVariant =
  | 'valid'
  | 'skewed'
  | 'stale'
  | 'missing'
  | 'wrongSecret'
  | 'otherBody'
  | 'truncated'
  | 'upper'
  | 'prefixed'
  | 'padded'
  | 'garbage'
  | 'duplicate'
  | 'bothSchemes'
  | 'tsGarbage'
  | 'tsMissing'
  | 'crossed';

interface HeaderSpec {
  scheme: 'signature' | 'timestamped';
  sig: SigVariant;
  offset: number;
  garbage: string;
  contentType: string | string[] | null;
  titleCase: boolean;
  extra: [string, string | string[]] | null;
}

interface CaseSpec {
  body: BodySpec;
  headers: HeaderSpec;
}

interface Scenario {
  pool: PairSpec[];
  cases: CaseSpec[];
}

const char = (min: number, max: number) => fc.integer({ min, max }).map((c) => String.fromCodePoint(c));
/** Unicode that PostgreSQL can store: RTL marks, combining marks, astral characters, controls. */
const cleanUnit = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'abcdefxyz0129 -_.:/@'.split('')) },
  { weight: 3, arbitrary: fc.oneof(char(0x01, 0xd7ff), char(0xe000, 0xfffd)) },
  { weight: 1, arbitrary: char(0x10000, 0x10ffff) },
  { weight: 1, arbitrary: fc.constantFrom('\u202e', '\u200f', 'e\u0301', '🙂', '\u2028', '"', '\\', '\n', '\u0001', '\ufeff') },
);
/** Anything a JS string holds, NUL and lone surrogates included. */
const wildUnit = fc.oneof(
  { weight: 8, arbitrary: cleanUnit },
  { weight: 1, arbitrary: fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff') },
  { weight: 1, arbitrary: char(0, 0x10ffff) },
);
const cleanString = fc.string({ unit: cleanUnit, maxLength: 12 });
const RESERVED = new Set([
  'event',
  'session_id',
  'type',
  'data',
  'invitee_email',
  'transcript_url',
  'total_minutes',
  'timestamp',
  'feedback',
  '__proto__',
  'constructor',
]);
const extraKey = fc.string({ unit: cleanUnit, minLength: 1, maxLength: 8 }).filter((k) => !RESERVED.has(k));
const cleanJson = fc.jsonValue({ maxDepth: 3, stringUnit: cleanUnit }) as fc.Arbitrary<Json>;
const wildJson = fc.jsonValue({ maxDepth: 4, stringUnit: wildUnit }) as fc.Arbitrary<Json>;

const KNOWN_EVENTS = ['interview.completed', 'session.feedback_submitted'];
const pairArb: fc.Arbitrary<PairSpec> = fc.record({
  event: fc.constantFrom(...KNOWN_EVENTS, 'Interview.Completed', 'interview.scheduled', 'session.feedback_submitted:abc', 'a:b', 'x'),
  core: fc.constantFrom('abc', 'def', 'abc:def', ':', 's-1', 'ü-ß', 'u\u0308-ß', '🙂', ' lead', 'a\u202eb', 'a%b', 'a_b', 'ABC'),
});
/** Two pairs whose naive `${event}:${session_id}` keys are equal: they must stay two rows. */
const splitPairsArb: fc.Arbitrary<PairSpec[]> = fc
  .record({
    event: fc.constantFrom(...KNOWN_EVENTS, 'x'),
    x: fc.constantFrom('abc', '', 'a.b', 'x:y'),
    y: fc.constantFrom('def', '', ':z'),
  })
  .map(({ event, x, y }) => [
    { event: `${event}:${x}`, core: y },
    { event, core: `${x}:${y}` },
  ]);
const poolArb: fc.Arbitrary<PairSpec[]> = fc
  .tuple(fc.array(pairArb, { minLength: 1, maxLength: 3 }), fc.option(splitPairsArb, { freq: 2 }))
  .map(([pairs, split]) => [...(split ?? []), ...pairs]);

const optionalFields: fc.Arbitrary<JsonObject> = fc.record(
  {
    invitee_email: fc.constantFrom(...GOOD_EMAILS),
    transcript_url: fc.constantFrom(...GOOD_URLS),
    total_minutes: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 0, max: 100_000, noNaN: true })),
    timestamp: fc.constantFrom(...GOOD_TIMESTAMPS),
    feedback: fc.oneof(
      fc.record({ rating: fc.integer({ min: 1, max: 5 }), comment: cleanString }),
      fc.dictionary(extraKey, cleanJson, { maxKeys: 3 }),
    ),
  },
  { requiredKeys: [] },
);

const deliveryArb: fc.Arbitrary<DeliverySpec> = fc.record({
  pair: fc.nat({ max: 7 }),
  envelope: fc.boolean(),
  fields: optionalFields,
  extras: fc.dictionary(extraKey, cleanJson, { maxKeys: 3 }),
  envelopeExtras: fc.oneof(
    { weight: 3, arbitrary: fc.constant({}) },
    { weight: 1, arbitrary: fc.record({ id: cleanString, created_at: fc.constantFrom(...GOOD_TIMESTAMPS) }) },
  ),
});

const wrongTypes: Json[] = [null, 0, -1.5, true, [], {}, ['interview.completed'], { id: 'x' }];
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant('set' as const),
    field: fc.constant('event'),
    value: fc.constantFrom<Json>(...wrongTypes, '', '   ', '\t\n', 'has space', 'évent.x', 'a/b'),
  }),
  // Only refused values: a valid session id must keep the scenario's namespace (pad, append, length do).
  fc.record({
    op: fc.constant('set' as const),
    field: fc.constant('session_id'),
    value: fc.constantFrom<Json>(...wrongTypes, '', '   ', '\t\n\u00a0'),
  }),
  fc.record({ op: fc.constant('delete' as const), field: fc.constantFrom('event', 'session_id') }),
  fc.record({
    op: fc.constant('pad' as const),
    field: fc.constantFrom('event' as const, 'session_id' as const),
    left: fc.constantFrom('', ' ', '\t', '\u00a0', '\ufeff'),
    right: fc.constantFrom(' ', '\n', '\u3000', ''),
  }),
  fc.record({
    op: fc.constant('append' as const),
    field: fc.constantFrom('event' as const, 'session_id' as const),
    suffix: fc.constantFrom('\u0000', '\ud800', '\udfff', ':', '::', ' x', '🙂', '\u0301'),
  }),
  fc.record({
    op: fc.constant('length' as const),
    field: fc.constantFrom('event' as const, 'session_id' as const),
    length: fc.constantFrom(199, 200, 201, 255, 256, 257),
  }),
  fc.record({
    op: fc.constant('set' as const),
    field: fc.constantFrom('total_minutes', 'timestamp', 'invitee_email', 'transcript_url', 'feedback'),
    value: fc.constantFrom<Json>(
      ...wrongTypes,
      '12',
      100_000,
      100_001,
      0,
      1e308,
      '0000-01-01T00:00:00Z',
      '2026-11-27T10:00:00+23:00',
      '2026-11-27T10:00:00-23:59',
      '2026-13-45T25:61:61Z',
      '2026-11-27',
      'yesterday',
      '',
      'not-an-email',
      'a@b',
      'ada@example.com\u0000',
      'ftp://example.com/t.json',
      'javascript:alert(1)',
      'https://',
      'not a url',
      'great',
      { rating: 5 },
      { '\u0000': 1 },
      { ok: '\ud800' },
    ),
  }),
  fc.record({
    op: fc.constant('set' as const),
    field: fc.constantFrom('__proto__', 'constructor', 'k\u0000', '\udc00', 'emoji🙂', ''),
    value: fc.constantFrom<Json>({ prototype: { polluted: true } }, 1, 'x', '\u0000'),
  }),
  fc.record({
    op: fc.constant('envelope' as const),
    change: fc.constantFrom(
      'data-array' as const,
      'data-string' as const,
      'data-null' as const,
      'type-number' as const,
      'event-too' as const,
      'data-event-differs' as const,
    ),
  }),
);

const HUGE_LITERALS = [
  '1e400',
  '-1e400',
  '123456789012345678901234567890',
  '1e-400',
  '-0',
  '1E+2',
  '5e-324',
  '1.7976931348623157e308',
  '0.1e1',
];
const formatArb: fc.Arbitrary<Format> = fc.oneof(
  { withCrossShrink: true },
  { weight: 12, arbitrary: fc.constant({ kind: 'compact' as const }) },
  { weight: 2, arbitrary: fc.constantFrom({ kind: 'pretty' as const }, { kind: 'escaped' as const }, { kind: 'dupkey' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'bom' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('literal' as const), literal: fc.constantFrom(...HUGE_LITERALS) }) },
);

// withCrossShrink: a counterexample can shrink into a simpler kind (a plain delivery, a valid signature).
const bodyArb: fc.Arbitrary<BodySpec> = fc.oneof(
  { withCrossShrink: true },
  {
    weight: 40,
    arbitrary: fc.record({ kind: fc.constant('delivery' as const), delivery: deliveryArb, mutation: fc.constant(null), format: formatArb }),
  },
  {
    weight: 25,
    arbitrary: fc.record({ kind: fc.constant('delivery' as const), delivery: deliveryArb, mutation: mutationArb, format: formatArb }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('corrupt' as const),
      delivery: deliveryArb,
      op: fc.constantFrom('flip' as const, 'delete' as const, 'insert' as const, 'truncate' as const),
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('json' as const),
      value: fc.oneof(
        wildJson,
        fc.dictionary(fc.string({ unit: wildUnit, maxLength: 6 }), wildJson, { maxKeys: 4 }) as fc.Arbitrary<Json>,
        fc.record({ event: wildJson, session_id: wildJson }) as fc.Arbitrary<Json>,
        fc.record({ type: wildJson, data: wildJson }) as fc.Arbitrary<Json>,
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 96 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('deep' as const),
      delivery: deliveryArb,
      levels: fc.constantFrom(29, 30, 31, 32, 200, 20_000),
      container: fc.constantFrom('array' as const, 'object' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('big' as const), delivery: deliveryArb, overLimitBy: fc.constantFrom(-1, 0, 1, 1_000_000) }),
  },
);

const sigArb: fc.Arbitrary<SigVariant> = fc.oneof(
  { withCrossShrink: true },
  { weight: 70, arbitrary: fc.constant('valid' as const) },
  { weight: 8, arbitrary: fc.constant('missing' as const) },
  {
    weight: 22,
    arbitrary: fc.constantFrom<SigVariant>(
      'skewed',
      'stale',
      'wrongSecret',
      'otherBody',
      'truncated',
      'upper',
      'prefixed',
      'padded',
      'garbage',
      'duplicate',
      'bothSchemes',
      'tsGarbage',
      'tsMissing',
      'crossed',
    ),
  },
);
const contentTypeArb: fc.Arbitrary<string | string[] | null> = fc.oneof(
  { withCrossShrink: true },
  { weight: 85, arbitrary: fc.constantFrom(...GOOD_CONTENT_TYPES) },
  {
    weight: 15,
    arbitrary: fc.constantFrom<string | string[] | null>(
      null,
      '',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/octet-stream',
      'application/jsonp',
      'application/vnd.api+json',
      'multipart/form-data; boundary=x',
      'application/json, text/plain',
      'Application/JSON',
      'application/json; charset=iso-8859-1',
      'application/json; charset=utf-16',
      ' application/json',
      ['text/plain', 'application/json'],
      ['application/json', 'application/json'],
    ),
  },
);
const headerArb: fc.Arbitrary<HeaderSpec> = fc.record({
  scheme: fc.constantFrom('signature' as const, 'timestamped' as const),
  sig: sigArb,
  offset: fc.oneof({ withCrossShrink: true }, fc.integer({ min: -60, max: 60 }), fc.constantFrom(-86_400, -3_600, -400, 400, 3_600)),
  garbage: fc.constantFrom(
    '',
    'abc',
    'z'.repeat(64),
    'a'.repeat(66),
    `sha1=${'a'.repeat(40)}`,
    'deadbeef'.repeat(8),
    '1.5',
    '-1',
    '0x10',
    ' ',
  ),
  contentType: contentTypeArb,
  titleCase: fc.boolean(),
  extra: fc.oneof(
    { weight: 6, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<[string, string | string[]]>(
        ['x-request-id', 'req-1'],
        ['x-request-id', 'r'.repeat(200)],
        ['x-request-id', 'has spaces;and=odd'],
        ['x-request-id', ['a', 'b']],
        ['content-encoding', 'identity'],
        ['content-encoding', 'gzip'],
        ['accept', 'text/html'],
        ['x-interviewrelay-event', 'interview.completed'],
      ),
    },
  ),
});

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  pool: poolArb,
  cases: fc.array(fc.record({ body: bodyArb, headers: headerArb }), { minLength: 1, maxLength: 16 }),
});

// ---------------------------------------------------------------------------------------------
// Building requests
// ---------------------------------------------------------------------------------------------

/** Placeholder for a raw JSON text (a number literal, deep nesting, padding) spliced in after JSON.stringify. */
const RAW = (i: number) => `"@@raw-${i}@@"`;

function deliveryObject(
  d: DeliverySpec,
  pool: PairSpec[],
  ns: string,
  extraRaw?: [string, number],
): { obj: JsonObject; fields: JsonObject } {
  const pair = pool[d.pair % pool.length];
  const fields: JsonObject = { session_id: `${pair.core}${ns}`, ...d.fields, ...d.extras };
  if (extraRaw) fields[extraRaw[0]] = JSON.parse(RAW(extraRaw[1])) as string;
  const obj: JsonObject = d.envelope ? { type: pair.event, data: fields, ...d.envelopeExtras } : { event: pair.event, ...fields };
  return { obj, fields };
}

function mutate(obj: JsonObject, fields: JsonObject, envelope: boolean, m: Mutation): void {
  const holder = (field: string): [JsonObject, string] =>
    envelope && field === 'event' ? [obj, 'type'] : [envelope ? fields : obj, field];
  if (m.op === 'envelope') {
    if (!envelope) return void (obj.type = 'interview.completed');
    if (m.change === 'data-array') obj.data = [fields];
    else if (m.change === 'data-string') obj.data = JSON.stringify(fields);
    else if (m.change === 'data-null') obj.data = null;
    else if (m.change === 'type-number') obj.type = 7;
    else if (m.change === 'event-too') obj.event = obj.type;
    else fields.event = 'interview.other';
    return;
  }
  const [target, key] = holder(m.field);
  const current = typeof target[key] === 'string' ? target[key] : '';
  // defineProperty: a plain assignment to "__proto__" would set the prototype, not a key.
  if (m.op === 'set') Object.defineProperty(target, key, { value: m.value, enumerable: true, writable: true, configurable: true });
  else if (m.op === 'delete') delete target[key];
  else if (m.op === 'pad') target[key] = `${m.left}${current}${m.right}`;
  else if (m.op === 'append') target[key] = `${current}${m.suffix}`;
  else
    target[key] =
      current.length >= m.length
        ? current.slice(0, m.length)
        : current + (m.field === 'event' ? 'e' : 'x').repeat(m.length - current.length);
}

function serialise(obj: JsonObject, format: Format): string {
  switch (format.kind) {
    case 'pretty':
      return JSON.stringify(obj, null, 2);
    case 'escaped':
      return JSON.stringify(obj).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    case 'bom':
      return `\ufeff${JSON.stringify(obj)}`;
    case 'dupkey': {
      // An earlier, different value under a key that matters: JSON.parse (and the platform) keep the last.
      const shadows = ['event', 'session_id', 'type', 'data'].filter((k) => k in obj).map((k) => `"${k}":"shadowed",`);
      return `{${shadows.join('')}${JSON.stringify(obj).slice(1)}`;
    }
    default:
      return JSON.stringify(obj);
  }
}

function buildBody(spec: BodySpec, pool: PairSpec[], ns: string): Buffer {
  switch (spec.kind) {
    case 'delivery': {
      const literal = spec.format.kind === 'literal' ? spec.format.literal : undefined;
      const { obj, fields } = deliveryObject(spec.delivery, pool, ns, literal ? ['n', 0] : undefined);
      if (spec.mutation) mutate(obj, fields, spec.delivery.envelope, spec.mutation);
      const text = serialise(obj, spec.format);
      return Buffer.from(literal ? text.replace(RAW(0), literal) : text);
    }
    case 'corrupt': {
      const bytes = Buffer.from(JSON.stringify(deliveryObject(spec.delivery, pool, ns).obj));
      const at = spec.at % bytes.length;
      if (spec.op === 'flip') bytes[at] ^= spec.byte || 0x80;
      else if (spec.op === 'truncate') return bytes.subarray(0, at);
      else if (spec.op === 'delete') return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
      else return Buffer.concat([bytes.subarray(0, at), Buffer.from([spec.byte]), bytes.subarray(at)]);
      return bytes;
    }
    case 'deep': {
      const text = JSON.stringify(deliveryObject(spec.delivery, pool, ns, ['nested', 0]).obj);
      const [open, close] = spec.container === 'array' ? ['[', ']'] : ['{"a":', '}'];
      return Buffer.from(text.replace(RAW(0), `${open.repeat(spec.levels)}1${close.repeat(spec.levels)}`));
    }
    case 'big': {
      const text = JSON.stringify(deliveryObject(spec.delivery, pool, ns, ['pad', 0]).obj);
      const without = Buffer.byteLength(text) - RAW(0).length + 2;
      return Buffer.from(text.replace(RAW(0), `"${'p'.repeat(Math.max(0, MAX_BODY_BYTES + spec.overLimitBy - without))}"`));
    }
    case 'json':
      return Buffer.from(JSON.stringify(spec.value));
    case 'bytes':
      return Buffer.from(spec.bytes);
  }
}

function buildHeaders(spec: HeaderSpec, raw: Buffer, now: number): SentHeaders {
  const name = (n: string) => (spec.titleCase ? n.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase()) : n);
  const headers: SentHeaders = {};
  if (spec.contentType !== null) headers[name('content-type')] = spec.contentType;
  if (spec.extra) headers[name(spec.extra[0])] = spec.extra[1];
  const fresh = spec.sig === 'skewed' || spec.sig === 'stale' ? now + spec.offset : now;
  const sign = (body: Buffer, secret = TEST_SECRET, scheme = spec.scheme) => signDelivery(body, secret, scheme, fresh);
  const good = sign(raw);
  const sigName = spec.scheme === 'timestamped' ? 'x-interviewrelay-signature' : 'x-webhook-signature';
  const put = (h: Record<string, string | string[]>) => {
    for (const [k, v] of Object.entries(h)) headers[name(k)] = v;
  };
  // The scheme's headers as signDelivery makes them, with the signature value replaced.
  const withSig = (value: string | string[]) => put({ ...good, [sigName]: value });
  switch (spec.sig) {
    case 'valid':
    case 'skewed':
    case 'stale':
      put(good);
      break;
    case 'missing':
      break;
    case 'wrongSecret':
      put(sign(raw, spec.garbage.length % 2 === 0 ? 'wrong-secret' : `${TEST_SECRET} `));
      break;
    case 'otherBody':
      put(sign(Buffer.concat([raw, Buffer.from(' ')])));
      break;
    case 'truncated':
      withSig(good[sigName].slice(0, 63));
      break;
    case 'upper':
      withSig(good[sigName].toUpperCase());
      break;
    case 'prefixed':
      withSig(`sha256=${good[sigName]}`);
      break;
    case 'padded':
      withSig(` ${good[sigName]} `);
      break;
    case 'garbage':
      withSig(spec.garbage);
      break;
    case 'duplicate':
      withSig(spec.offset % 2 === 0 ? [good[sigName], spec.garbage] : [good[sigName], good[sigName]]);
      break;
    case 'bothSchemes': {
      const other = spec.scheme === 'timestamped' ? 'signature' : 'timestamped';
      put(good);
      put(spec.offset % 2 === 0 ? sign(raw, 'wrong-secret', other) : sign(raw, TEST_SECRET, other));
      break;
    }
    case 'tsGarbage': {
      // Signed over the garbage timestamp too, so only its format (or age, for milliseconds) is wrong.
      const stamp = spec.offset % 2 === 0 ? spec.garbage : String(now * 1000);
      put({ 'x-interviewrelay-signature': hmacHex(`${stamp}.`, raw), 'x-interviewrelay-timestamp': stamp });
      break;
    }
    case 'tsMissing':
      put({ 'x-interviewrelay-signature': hmacHex(`${now}.`, raw) });
      break;
    case 'crossed':
      // Each scheme's MAC in the other scheme's header.
      put(
        spec.scheme === 'timestamped'
          ? { 'x-interviewrelay-signature': hmacHex(raw), 'x-interviewrelay-timestamp': String(now) }
          : { 'x-webhook-signature': hmacHex(`${now}.`, raw), 'x-interviewrelay-timestamp': String(now) },
      );
      break;
  }
  return headers;
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

interface Answer {
  status: number | null;
  body: any;
  text: string;
  error?: string;
  /** Over the size limit: the service answered 413 and closed the connection while the body was still being written. */
  cutOff?: boolean;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });

function post(port: number, raw: Buffer, headers: SentHeaders): Promise<Answer> {
  return new Promise((resolve) => {
    let status: number | null = null;
    const chunks: Buffer[] = [];
    const answer = (error?: NodeJS.ErrnoException): Answer => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      const code = error?.code;
      const cutOff = status === null && raw.length > MAX_BODY_BYTES && (code === 'EPIPE' || code === 'ECONNRESET');
      return { status, body, text, ...(error && { error: error.message }), ...(cutOff && { cutOff }) };
    };
    let req: http.ClientRequest;
    try {
      req = http.request(
        {
          agent,
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: WEBHOOK_PATH,
          timeout: 20_000,
          headers: { ...headers, 'content-length': String(raw.length) },
        },
        (res) => {
          status = res.statusCode ?? null;
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(answer()));
          res.on('error', (err) => resolve(answer(err)));
        },
      );
    } catch (err) {
      return resolve({ status: null, body: undefined, text: '', error: `request not sent: ${(err as Error).message}` });
    }
    req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', (err) => resolve(answer(err)));
    req.end(raw);
  });
}

async function inPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(lanes);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

/** Rows whose payload was selected as text (`payload::text`), read by faithfulJson. */
function storedRows(rows: Row[]): Row[] {
  return rows.map((r) => ({ ...r, payload: faithfulJson(r.payload as unknown as string) as Json }));
}

interface Row {
  id: string;
  event: string;
  session_id: string;
  payload: Json;
}

interface Sent {
  raw: Buffer;
  headers: SentHeaders;
  judgement: Judgement;
  answer: Answer;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const pairKey = (event: string, sessionId: string) => JSON.stringify([event, sessionId]);

function show(s: Sent): string {
  const body = strictUtf8Safe(s.raw);
  const cut = (t: string, n: number) => (t.length > n ? `${t.slice(0, n)}… (${t.length} chars)` : t);
  return [
    `    POST ${WEBHOOK_PATH}  ${JSON.stringify(s.headers)}`,
    `    body (${s.raw.length} bytes): ${cut(body, 600)}`,
    `    oracle: ${s.judgement.verdict} (body ${s.judgement.why}; signature ${s.judgement.signature}; content-type ${s.judgement.contentType})` +
      (s.judgement.event !== undefined ? ` pair ${pairKey(s.judgement.event, s.judgement.sessionId!)}` : ''),
    `    answer: ${s.answer.status ?? `none (${s.answer.error})`} ${cut(s.answer.text, 300)}`,
  ].join('\n');
}

/** JSON for a message, with what JSON cannot spell (Infinity from a literal like 1e400) spelled out. */
function showJson(v: unknown): string {
  const text = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? `<${x}>` : x));
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

function strictUtf8Safe(raw: Buffer): string {
  try {
    return JSON.stringify(strictUtf8.decode(raw));
  } catch {
    return `hex ${raw.toString('hex')}`;
  }
}

describe('POST /webhooks/ai-interview (property-based)', () => {
  let db: TestDatabase;
  let t: RunningService;
  const counts = {
    runs: 0,
    requests: 0,
    s2xx: 0,
    s4xx: 0,
    s5xx: 0,
    none: 0,
    cutOff: 0,
    mustAccept: 0,
    maybe: 0,
    mustReject: 0,
    accepted: 0,
    duplicate: 0,
  };
  /** Every pair answered 2xx in the whole run, with its row id. */
  const acceptedPairs = new Map<string, string>();
  let rows = 0;

  beforeAll(async () => {
    process.stdout.write(
      `property suite: seed=${SEED}${REPLAY_PATH ? ` path=${REPLAY_PATH}` : ''} runs=${RUNS} (PROPERTY_SEED, PROPERTY_PATH, PROPERTY_RUNS replay it)\n`,
    );
    db = await createTestDatabase();
    t = await startService({ DATABASE_URL: db.url });
  });

  afterAll(async () => {
    agent.destroy();
    if (db) rows = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM webhook_events'))[0].n);
    process.stdout.write(
      `property suite: seed=${SEED} runs=${counts.runs} requests=${counts.requests} 2xx=${counts.s2xx} 4xx=${counts.s4xx} 5xx=${counts.s5xx} rows=${rows}` +
        ` (oracle: ${counts.mustAccept} must-accept, ${counts.maybe} maybe, ${counts.mustReject} must-reject; ${counts.accepted} accepted, ${counts.duplicate} duplicate` +
        `${counts.cutOff ? `; ${counts.cutOff} over-limit bodies cut off by the service's close` : ''}` +
        `${counts.none > counts.cutOff ? `; ${counts.none - counts.cutOff} unanswered` : ''})\n`,
    );
    await t?.stop();
    await db?.drop();
  });

  async function runScenario(scenario: Scenario): Promise<void> {
    counts.runs++;
    const ns = `~${counts.runs.toString(36)}${randomBytes(3).toString('hex')}`;
    const now = Math.floor(Date.now() / 1000);
    const prepared = scenario.cases.map((c) => {
      const raw = buildBody(c.body, scenario.pool, ns);
      const headers = buildHeaders(c.headers, raw, now);
      return { raw, headers, judgement: judge(raw, headers, now) };
    });
    const candidates = prepared.filter((p) => p.judgement.verdict !== 'reject');
    const before = storedRows(
      await db.query<Row>(
        `SELECT id::text, event, session_id, payload::text AS payload FROM webhook_events
       WHERE (event, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [candidates.map((p) => p.judgement.event!), candidates.map((p) => p.judgement.sessionId!)],
      ),
    );
    const existing = new Map(before.map((r) => [pairKey(r.event, r.session_id), r]));

    const sent: Sent[] = await inPool(prepared, IN_FLIGHT, async (p) => ({ ...p, answer: await post(t.port, p.raw, p.headers) }));

    const problems: string[] = [];
    const fail = (what: string, ...requests: Sent[]) => problems.push(`${what}\n${requests.map(show).join('\n')}`);
    const groups = new Map<string, Sent[]>();
    for (const s of sent) {
      const { status } = s.answer;
      counts.requests++;
      counts[s.judgement.verdict === 'accept' ? 'mustAccept' : s.judgement.verdict === 'maybe' ? 'maybe' : 'mustReject']++;
      if (status === null) {
        if (s.answer.cutOff) counts.cutOff++;
        else fail('no answer', s);
        counts.none++;
        continue;
      }
      if (status >= 500) counts.s5xx++;
      else if (status >= 400) counts.s4xx++;
      else if (status >= 200 && status < 300) counts.s2xx++;
      if (status >= 500) fail(`${status}: a 5xx with PostgreSQL and Redis up`, s);
      else if (status >= 200 && status < 300 && s.judgement.verdict === 'reject') fail(`${status} for a request that must be refused`, s);
      else if (status !== 200 && s.judgement.verdict === 'accept') fail(`${status} for a correctly signed, valid delivery`, s);
      if (status < 200 || status >= 300 || s.judgement.verdict === 'reject') continue;
      const b = s.answer.body as { status?: unknown; id?: unknown } | undefined;
      if (
        status !== 200 ||
        typeof b !== 'object' ||
        b === null ||
        !['accepted', 'duplicate'].includes(b.status as string) ||
        typeof b.id !== 'string' ||
        !UUID.test(b.id)
      ) {
        fail('a 2xx that is not 200 {status: accepted|duplicate, id: <uuid>}', s);
        continue;
      }
      counts[b.status as 'accepted' | 'duplicate']++;
      const key = pairKey(s.judgement.event!, s.judgement.sessionId!);
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }

    const ids = [...groups.values()].flat().map((s) => s.answer.body.id as string);
    const after = storedRows(
      await db.query<Row>(
        `SELECT id::text, event, session_id, payload::text AS payload FROM webhook_events
       WHERE id = ANY($1::uuid[]) OR strpos(session_id, $2) > 0
          OR (event, session_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
        [ids, ns, candidates.map((p) => p.judgement.event!), candidates.map((p) => p.judgement.sessionId!)],
      ),
    );
    const rowById = new Map(after.map((r) => [r.id, r]));
    const pairById = new Map<string, string>();
    const holders = new Map<string, Sent[]>();
    const expectedNew = new Set<string>();

    for (const [key, answers] of groups) {
      const id = answers[0].answer.body.id as string;
      const accepted = answers.filter((s) => s.answer.body.status === 'accepted');
      const old = existing.get(key);
      if (answers.some((s) => s.answer.body.id !== id)) fail(`one pair ${key}, several ids`, ...answers);
      if (old ? accepted.length !== 0 || id !== old.id : accepted.length !== 1) {
        fail(
          `pair ${key}${old ? ` already stored as ${old.id}` : ' new'}: ${accepted.length} accepted of ${answers.length} answers (want ${old ? 0 : 1})`,
          ...answers,
        );
      }
      if (pairById.has(id)) fail(`pairs ${pairById.get(id)} and ${key} share row ${id}`, ...holders.get(id)!, ...answers);
      pairById.set(id, key);
      holders.set(id, answers);
      if (!old) expectedNew.add(id);
      const row = rowById.get(id);
      const [event, sessionId] = JSON.parse(key) as [string, string];
      if (!row) {
        fail(`2xx id ${id} is not a row of webhook_events`, ...answers);
        continue;
      }
      if (row.event !== event || row.session_id !== sessionId) {
        fail(`2xx id ${id} is the row of ${pairKey(row.event, row.session_id)}, not of ${key}`, ...answers);
      }
      const want = old ? old.payload : accepted[0]?.judgement.payload;
      if (want !== undefined && !jsonEqual(row.payload, want)) {
        fail(
          `row ${id} payload ${showJson(row.payload)} is not ${old ? 'the stored one' : 'the accepted delivery'} ${showJson(want)}`,
          ...(old ? answers : accepted),
        );
      }
      acceptedPairs.set(key, id);
    }
    const beforeIds = new Set(before.map((r) => r.id));
    const phantoms = after.filter((r) => !beforeIds.has(r.id) && !expectedNew.has(r.id));
    for (const r of phantoms) fail(`row ${r.id} of ${pairKey(r.event, r.session_id)} was stored without a 2xx for it`, ...sent);

    if (problems.length > 0)
      throw new Error(`${problems.length} invariant(s) broken (namespace ${ns}):\n${problems.slice(0, 6).join('\n')}`);
  }

  it(
    'holds the ingest invariants for generated requests',
    async () => {
      // The time limit stops the runner without stopping the scenario it interrupts: that one goes
      // on sending, and is awaited (and must hold) before the whole-run check below counts rows.
      let inFlight: Promise<void> = Promise.resolve();
      const tracked = (scenario: Scenario) => (inFlight = runScenario(scenario));
      try {
        await fc.assert(fc.asyncProperty(scenarioArb, tracked), {
          seed: SEED,
          path: REPLAY_PATH,
          numRuns: RUNS,
          plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)],
        });
        await inFlight;
      } catch (err) {
        process.stdout.write(`property suite: FAILED; replay with PROPERTY_SEED=${SEED} and the path fast-check prints below\n`);
        const warnings = t
          .output()
          .split('\n')
          .filter((line) => /"level":"(warn|error|fatal)"/.test(line) && !line.includes('WebhookEventsProcessor'));
        if (warnings.length > 0) process.stdout.write(`property suite: the service's last warnings:\n${warnings.slice(-10).join('\n')}\n`);
        throw err;
      }
    },
    TIME_LIMIT_MS + 30_000,
  );

  it('stores one row per accepted pair over the whole run, and no other', async () => {
    const all = await db.query<{ id: string; event: string; session_id: string }>('SELECT id::text, event, session_id FROM webhook_events');
    const rowOfPair = new Map(all.map((r) => [pairKey(r.event, r.session_id), r.id]));
    const pairsWithoutTheirRow = [...acceptedPairs]
      .filter(([key, id]) => rowOfPair.get(key) !== id)
      .map(([key, id]) => `${key} answered with ${id}`);
    const rowsWithoutA2xx = all
      .filter((r) => acceptedPairs.get(pairKey(r.event, r.session_id)) !== r.id)
      .map((r) => `${r.id} ${pairKey(r.event, r.session_id)}`);
    expect({
      rows: all.length,
      pairsWithoutTheirRow: pairsWithoutTheirRow.slice(0, 5),
      rowsWithoutA2xx: rowsWithoutA2xx.slice(0, 5),
    }).toEqual({
      rows: acceptedPairs.size,
      pairsWithoutTheirRow: [],
      rowsWithoutA2xx: [],
    });
  });
});
