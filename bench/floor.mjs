// The durable floor for `npm run bench -- --floor`: the platform's example handler (bench/baseline.mjs:
// its HMAC check and JSON parse, on Node's bare HTTP server instead of Express, which is cheaper) made
// durable in the fewest steps the design card allows, and nothing more. A delivery is answered only
// after its row is committed in PostgreSQL (one INSERT per event-loop turn, at most two in flight,
// first writer wins per key) and its batch is a BullMQ job (one per INSERT). With FLOOR_WORKER=1 a
// BullMQ worker in the same process handles each job in one statement: its rows marked processed and
// their feedback rows written, asynchronously committed, as the service's worker commits its
// bookkeeping. FLOOR_QUEUE=postgres puts the queue in PostgreSQL (BullMQ's Postgres backend, as the
// service's QUEUE_BACKEND=postgres does).
//
// No framework, validation, metrics, logging, retries, dead letters, sweeper or crash recovery: the
// floor is what durability alone costs on a machine, so that the service's figures can be read
// against it as well as against the example. Not production code.
//
//   PORT=3998 DATABASE_URL=... REDIS_URL=... QUEUE_PREFIX=... FLOOR_WORKER=1 node bench/floor.mjs
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { createPostgresBackend, Queue, setDefaultBackendFactory, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

const port = Number(process.env.PORT ?? 3998);
const secret = process.env.WEBHOOK_SECRET ?? 'bench-secret-0123456789abcdef0123456789';
const prefix = process.env.QUEUE_PREFIX ?? 'floor';
const onPostgres = process.env.FLOOR_QUEUE === 'postgres';
if (onPostgres) setDefaultBackendFactory(createPostgresBackend);
const connection = () =>
  onPostgres
    ? { connectionString: process.env.DATABASE_URL, max: 8, migrate: true }
    : new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
await pool.query(`CREATE TABLE IF NOT EXISTS floor_inbox (
  id bigserial PRIMARY KEY, idempotency_key text NOT NULL UNIQUE, payload jsonb NOT NULL, processed_at timestamptz)`);
await pool.query(`CREATE TABLE IF NOT EXISTS floor_feedback (session_id text PRIMARY KEY, rating int, payload jsonb NOT NULL)`);
const queue = new Queue('floor', { connection: connection(), prefix });

if (process.env.FLOOR_WORKER === '1') {
  const workerPool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10, options: '-c synchronous_commit=off' });
  new Worker(
    'floor',
    (job) =>
      workerPool.query({
        name: 'floor-process',
        text: `WITH done AS (
                 UPDATE floor_inbox SET processed_at = now() WHERE id = ANY($1::bigint[]) AND processed_at IS NULL RETURNING payload)
               INSERT INTO floor_feedback (session_id, rating, payload)
               SELECT payload->>'session_id', (payload->'feedback'->>'rating')::int, payload FROM done
               ON CONFLICT (session_id) DO NOTHING`,
        values: [job.data.ids],
      }),
    { connection: connection(), prefix, concurrency: 32 },
  );
}

// Group commit, as the service's ingest does it: the deliveries of one loop turn share an INSERT.
let pending = [];
let scheduled = false;
let inFlight = 0;
function submit(delivery) {
  pending.push(delivery);
  if (!scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
}
function drain() {
  scheduled = false;
  while (pending.length > 0 && inFlight < 2) {
    const batch = pending.splice(0, 500);
    inFlight++;
    flush(batch).finally(() => {
      inFlight--;
      drain();
    });
  }
}
async function flush(batch) {
  try {
    const { rows } = await pool.query({
      name: 'floor-insert',
      text: `INSERT INTO floor_inbox (idempotency_key, payload)
             SELECT k, p FROM jsonb_to_recordset($1::jsonb) AS x(k text, p jsonb) ORDER BY k
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key`,
      values: [JSON.stringify(batch.map((d) => ({ k: d.key, p: d.payload })))],
    });
    if (rows.length > 0) await queue.add('batch', { ids: rows.map((r) => r.id) }, { removeOnComplete: true });
    const inserted = new Set(rows.map((r) => r.idempotency_key));
    for (const d of batch) answer(d.res, 200, inserted.has(d.key) ? { received: true } : { received: true, duplicate: true });
  } catch {
    for (const d of batch) answer(d.res, 503, { error: 'unavailable' });
  }
}

// Node's own HTTP server, the cheapest there is: the floor holds for any framework.
const answer = (res, status, body) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};
createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/__ping') return answer(res, 200, 'ok');
  if (req.method !== 'POST' || req.url !== '/webhooks/ai-interview') return answer(res, 404, { error: 'not found' });
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const signature = req.headers['x-webhook-signature'] ?? '';
    const expected = createHmac('sha256', secret).update(body).digest('hex');
    if (signature.length !== expected.length || !timingSafeEqual(Buffer.from(signature), Buffer.from(expected)))
      return answer(res, 401, { error: 'invalid signature' });
    let payload;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return answer(res, 400, { error: 'invalid JSON' });
    }
    submit({ key: `${payload.event}:${payload.session_id}`, payload, res });
  });
}).listen(port, '127.0.0.1');
