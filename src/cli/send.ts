/**
 * npm run send -- <event> [--session ID] [--url URL] [--scheme signature|timestamped] [--file payload.json]
 *
 * Signs a delivery exactly as the InterviewRelay platform does, posts it to the service and prints
 * the status and body. The payload is --file, else examples/<event>.json, else a minimal body.
 * In the embedded mode it then waits for processing and prints what became of the session.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { signDelivery } from '../webhooks/webhook-signature.js';
import { WEBHOOK_PATH } from '../webhooks/webhook.constants.js';

const USAGE = `usage: npm run send -- <event> [--session ID] [--url URL] [--scheme signature|timestamped] [--file payload.json] [--no-wait]

  <event>     event type, e.g. interview.completed, session.feedback_submitted, or any other name
  --session   session_id (default: a fresh demo-… id; reuse one to see a duplicate answered)
  --url       webhook URL, or the service's origin (http://host:port: the webhook route is added)
              (default: http://127.0.0.1:$PORT/webhooks/ai-interview, PORT defaults to 3000)
  --scheme    signature: X-Webhook-Signature over the body (default);
              timestamped: X-InterviewRelay-Signature + X-InterviewRelay-Timestamp, { type, data } envelope
  --file      JSON payload; {{session_id}}, {{base_url}} and {{timestamp}} are filled in
  --no-wait   do not wait for the outcome (the embedded mode shows it at GET /dev/sessions/:id)

The secret is WEBHOOK_SECRET (the first, when several) or the one the service generated in
$DATA_DIR/webhook-secret (DATA_DIR defaults to ./data).`;

interface Options {
  event: string;
  sessionId: string;
  url: URL;
  scheme: 'signature' | 'timestamped';
  file?: string;
  wait: boolean;
}

function parse(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      session: { type: 'string' },
      url: { type: 'string' },
      scheme: { type: 'string', default: 'signature' },
      file: { type: 'string' },
      'no-wait': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length !== 1) fail(USAGE);
  if (values.scheme !== 'signature' && values.scheme !== 'timestamped') fail(`--scheme must be signature or timestamped\n\n${USAGE}`);
  let url: URL;
  try {
    url = new URL(values.url ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`);
    // An origin alone means the service: post to its webhook route.
    if (url.pathname === '/') url.pathname = WEBHOOK_PATH;
  } catch {
    fail(`--url is not a URL: ${values.url}`);
  }
  return {
    event: positionals[0],
    sessionId: values.session ?? `demo-${randomBytes(4).toString('hex')}`,
    url,
    scheme: values.scheme,
    file: values.file,
    wait: !values['no-wait'],
  };
}

/** What went wrong with a request: the network error's code (ECONNREFUSED), else its message. */
function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

function secret(): string {
  const fromEnv = (process.env.WEBHOOK_SECRET ?? '')
    .split(',')
    .map((s) => s.trim())
    .find((s) => s.length > 0);
  if (fromEnv) return fromEnv;
  const file = resolve(process.env.DATA_DIR?.trim() || './data', 'webhook-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  fail(`No secret: set WEBHOOK_SECRET, or start the service once without it so that it generates ${file}`);
}

/** The body to send: first scheme (top-level fields) or, for the timestamped scheme, the { type, data } envelope. */
function payload(o: Options): string {
  const file = o.file ?? join(process.cwd(), 'examples', `${o.event}.json`);
  let fields: Record<string, unknown> = { timestamp: '{{timestamp}}' };
  if (o.file || existsSync(file)) {
    const text = readFileSync(file, 'utf8')
      .replaceAll('{{session_id}}', o.sessionId)
      .replaceAll('{{base_url}}', o.url.origin)
      .replaceAll('{{timestamp}}', new Date().toISOString());
    try {
      fields = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      fail(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    // An example may already use the envelope; flatten it so either scheme can be chosen.
    if (typeof fields.type === 'string' && typeof fields.data === 'object' && fields.data !== null) {
      fields = { ...(fields.data as Record<string, unknown>) };
    }
  }
  if (fields.timestamp === '{{timestamp}}') fields.timestamp = new Date().toISOString();
  const { event: _event, type: _type, ...rest } = fields;
  void _event;
  void _type;
  const data = { ...rest, session_id: o.sessionId };
  const body = o.scheme === 'timestamped' ? { type: o.event, data } : { event: o.event, ...data };
  return JSON.stringify(body, null, 2);
}

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const o = parse(process.argv.slice(2));
  const body = payload(o);
  const headers = { 'content-type': 'application/json', ...signDelivery(body, secret(), o.scheme) };

  console.log(`POST ${o.url.href} (${o.scheme} scheme)`);
  for (const [k, v] of Object.entries(headers)) console.log(`${k}: ${v}`);
  console.log(`\n${body}\n`);

  let res: Response;
  try {
    res = await fetch(o.url, { method: 'POST', headers, body });
  } catch (err) {
    fail(`Could not reach ${o.url.origin}: ${describe(err)}. Is the service running (npm start)?`);
  }
  const text = await res.text();
  console.log(`${res.status} ${res.statusText}`);
  console.log(text);
  if (!res.ok) process.exit(1);
  if (o.wait) await showOutcome(o);
}

/** Polls the embedded mode's GET /dev/sessions/:id until the session's events are settled. */
async function showOutcome(o: Options): Promise<void> {
  const url = new URL(`/dev/sessions/${encodeURIComponent(o.sessionId)}`, o.url.origin);
  const deadline = Date.now() + 15_000;
  let last: unknown;
  while (Date.now() < deadline) {
    const res = await fetch(url).catch(() => undefined);
    if (!res || res.status === 404) return; // not the embedded mode: nothing to show
    last = await res.json();
    const events = (last as { events?: Array<{ status: string }> }).events ?? [];
    if (events.length > 0 && events.every((e) => !['received', 'processing'].includes(e.status))) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`\nGET ${url.href}`);
  console.log(JSON.stringify(last, null, 2));
}

void main();
