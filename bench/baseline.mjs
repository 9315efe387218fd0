// The baseline for `npm run bench`: a bare Express 5 app doing only what the InterviewRelay
// platform's own example handler does — HMAC-SHA256 hex check over the raw body, an in-memory Set
// for duplicates, 200 before any processing, nothing persisted. Not production code: it loses every
// event on a crash, which is exactly what the service is measured against.
//
//   PORT=3999 WEBHOOK_SECRET=s node bench/baseline.mjs
import { createHmac, timingSafeEqual } from 'node:crypto';
import express from 'express';

const port = Number(process.env.PORT ?? 3999);
const secret = process.env.WEBHOOK_SECRET ?? 'bench-secret-0123456789abcdef0123456789';
const processed = new Set();

const app = express();

app.post('/webhooks/ai-interview', express.raw({ type: 'application/json', limit: '1mb' }), (req, res) => {
  const signature = req.get('x-webhook-signature') ?? '';
  const expected = createHmac('sha256', secret).update(req.body).digest('hex');
  // The example compares unequal-length buffers (a 500); the length check keeps the baseline honest.
  if (signature.length !== expected.length || !timingSafeEqual(Buffer.from(signature), Buffer.from(expected))) {
    return res.status(401).json({ error: 'invalid signature' });
  }
  let payload;
  try {
    payload = JSON.parse(req.body.toString('utf8'));
  } catch {
    return res.status(400).json({ error: 'invalid JSON' });
  }
  const key = `${payload.event}:${payload.session_id}`;
  if (processed.has(key)) return res.status(200).json({ received: true, duplicate: true });
  processed.add(key);
  // "Respond quickly, process asynchronously": acknowledged before anything is done.
  res.status(200).json({ received: true });
  setImmediate(() => {
    /* processing would happen here, in-process: nothing is persisted */
  });
});

app.get('/__ping', (_req, res) => res.send('ok'));

app.listen(port, '127.0.0.1', () => {
  if (process.send) process.send('listening');
  else console.log(`baseline listening on ${port}`);
});
