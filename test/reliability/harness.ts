// Shared machinery of the reliability scenarios: the workload, 50 concurrent senders that behave like
// the platform (a delivery that is not acknowledged is sent again), local Slack and transcript
// servers, and the final count of sent / acknowledged / processed / lost / duplicated. The private
// Redis and PostgreSQL instances that a scenario may stop come from scripts/local-services.mjs.
import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { Client } from 'pg';
import { dropKeys } from '../../scripts/local-services.mjs';
import { REPEAT_NOTE } from '../../src/notifications/notification.entity.js';
import { signDelivery } from '../../src/webhooks/webhook-signature.js';
import { sleep, TEST_SECRET } from '../helpers/service.js';

export const WEBHOOK_URL_PATH = '/webhooks/ai-interview';

/** Short recovery timings so that a scenario sees the sweeper and stalled-job recovery within seconds. */
export const FAST_RECOVERY_ENV = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  // Retries span ~7 s (0.5 + 1 + 2 + 4 s): longer than the outages the scenarios cause.
  JOB_BACKOFF_MS: '500',
  WORKER_LOCK_DURATION_MS: '3000',
  WORKER_STALLED_INTERVAL_MS: '1000',
  SWEEP_INTERVAL_MS: '500',
  SWEEP_STALE_AFTER_MS: '2000',
  // Longer than the Slack claim lease (SLACK_TIMEOUT_MS + 30 s): a job deferred behind a live claim
  // is not "stuck", and reopening it every few seconds would only pile up deferred jobs.
  SLACK_TIMEOUT_MS: '2000',
  SWEEP_STUCK_AFTER_MS: '35000',
};

// ------------------------------------------------------------------------------------------------
// Workload

export interface Delivery {
  key: string;
  event: 'interview.completed' | 'session.feedback_submitted';
  sessionId: string;
  body: string;
}

export interface Workload {
  runId: string;
  keys: Delivery[];
  /** Every key once, plus redeliveries of random keys, shuffled. */
  deliveries: Delivery[];
  sessionPattern: RegExp;
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `keys` keys over keys/2 sessions (each session has an interview.completed and a
 * session.feedback_submitted), `total` deliveries in all: the extra ones are redeliveries.
 */
export function makeWorkload(opts: { keys: number; total: number; transcriptBaseUrl: string; seed?: number }): Workload {
  const runId = `rel${randomBytes(3).toString('hex')}`;
  const rand = prng(opts.seed ?? 7);
  const keys: Delivery[] = [];
  for (let i = 0; keys.length < opts.keys; i++) {
    const sessionId = `${runId}-s${i}`;
    keys.push({
      key: `interview.completed:${sessionId}`,
      event: 'interview.completed',
      sessionId,
      body: JSON.stringify({
        event: 'interview.completed',
        session_id: sessionId,
        invitee_email: `candidate${i}@example.com`,
        transcript_url: `${opts.transcriptBaseUrl}/transcripts/${sessionId}.json`,
        total_minutes: 10 + (i % 50),
        timestamp: new Date(Date.UTC(2026, 10, 27, 10, 0, i % 60)).toISOString(),
      }),
    });
    if (keys.length >= opts.keys) break;
    keys.push({
      key: `session.feedback_submitted:${sessionId}`,
      event: 'session.feedback_submitted',
      sessionId,
      body: JSON.stringify({
        event: 'session.feedback_submitted',
        session_id: sessionId,
        feedback: { rating: (i % 5) + 1, comment: `Feedback for interview ${i}` },
        timestamp: new Date(Date.UTC(2026, 10, 27, 11, 0, i % 60)).toISOString(),
      }),
    });
  }
  const deliveries = [...keys];
  while (deliveries.length < opts.total) deliveries.push(keys[Math.floor(rand() * keys.length)]);
  for (let i = deliveries.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [deliveries[i], deliveries[j]] = [deliveries[j], deliveries[i]];
  }
  return { runId, keys, deliveries, sessionPattern: new RegExp(`${runId}-s\\d+`, 'g') };
}

// ------------------------------------------------------------------------------------------------
// Senders

export interface Attempt {
  at: number;
  status: number; // 0: no HTTP answer (connection refused or reset, timeout)
}

export interface LoadTally {
  sent: number;
  attempts: Attempt[];
  acknowledgedKeys: Set<string>;
  /** Deliveries (not keys) that got a 2xx. */
  acknowledged: number;
  /** Answers outside 2xx / 503 / no answer: each is a broken invariant (e.g. 500, 400 on a good body). */
  unexpected: Array<{ key: string; status: number; body: string }>;
  gaveUp: number;
}

export interface LoadHandle {
  tally: LoadTally;
  done: Promise<LoadTally>;
  stop(): void;
}

/**
 * Sends every delivery from `concurrency` senders, each signed as the platform signs it. Like the
 * platform, a delivery that is not acknowledged (503, no answer) is sent again after `retryDelayMs`,
 * until `deadline` (then it counts in gaveUp). `baseUrl()` is read per attempt.
 */
export function startLoad(
  baseUrl: () => string,
  deliveries: Delivery[],
  opts: { concurrency?: number; retryDelayMs?: number; deadlineMs?: number; timeoutMs?: number } = {},
): LoadHandle {
  const tally: LoadTally = { sent: 0, attempts: [], acknowledgedKeys: new Set(), acknowledged: 0, unexpected: [], gaveUp: 0 };
  const deadline = Date.now() + (opts.deadlineMs ?? 120_000);
  let next = 0;
  let stopped = false;
  const sender = async () => {
    while (!stopped) {
      const d = deliveries[next++];
      if (!d) return;
      tally.sent++;
      for (;;) {
        if (stopped || Date.now() > deadline) {
          tally.gaveUp++;
          break;
        }
        let status: number;
        let text = '';
        try {
          const res = await fetch(`${baseUrl()}${WEBHOOK_URL_PATH}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...signDelivery(d.body, TEST_SECRET) },
            body: d.body,
            signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
          });
          status = res.status;
          text = await res.text();
        } catch {
          status = 0;
        }
        tally.attempts.push({ at: Date.now(), status });
        if (status >= 200 && status < 300) {
          tally.acknowledged++;
          tally.acknowledgedKeys.add(d.key);
          break;
        }
        if (status !== 0 && status !== 503) {
          tally.unexpected.push({ key: d.key, status, body: text.slice(0, 300) });
          break;
        }
        await sleep(opts.retryDelayMs ?? 250);
      }
    }
  };
  // REL_VERBOSE=1: a progress line every 2 s (what the senders see, while it happens).
  const progress = process.env.REL_VERBOSE
    ? setInterval(() => {
        const recent = statusesBetween(tally, Date.now() - 2000, Date.now());
        process.stdout.write(`   … sent ${tally.sent}, acknowledged ${tally.acknowledged}, last 2 s: ${JSON.stringify(recent)}\n`);
      }, 2000)
    : undefined;
  const done = Promise.all(Array.from({ length: opts.concurrency ?? 50 }, sender)).then(() => {
    clearInterval(progress);
    return tally;
  });
  return {
    tally,
    done,
    stop: () => {
      stopped = true;
      clearInterval(progress);
    },
  };
}

/**
 * After a fault has ended: resolves once the service acknowledges deliveries again, or stops the
 * load and throws after `timeoutMs` (a service that never recovers must fail the scenario, not hang it).
 */
export async function expectRecovery(load: LoadHandle, since: number, output: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (load.tally.attempts.some((a) => a.at > since && a.status >= 200 && a.status < 300)) return;
    if (await Promise.race([load.done.then(() => true), sleep(250).then(() => false)])) return;
  }
  load.stop();
  const seen = statusesBetween(load.tally, since, Date.now());
  throw new Error(
    `the service acknowledged nothing within ${timeoutMs / 1000} s after the fault ended (answers since: ${JSON.stringify(seen)}); service output (last 2 kB):\n${output().slice(-2048)}`,
  );
}

export function statusesBetween(tally: LoadTally, from: number, to: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of tally.attempts) {
    if (a.at < from || a.at > to) continue;
    const k = a.status === 0 ? 'no answer' : String(a.status);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

// ------------------------------------------------------------------------------------------------
// Local peers: the transcript host and Slack

export interface Peers {
  transcriptBaseUrl: string;
  transcriptHost: string;
  slackUrl: string;
  slackPosts: string[];
  transcriptGets: number;
  /**
   * With `transcriptDelayMs`: the client ports of the transcript requests waiting for their answer
   * (a keep-alive connection carries one request at a time), to tell which process holds them.
   */
  transcriptsPending: Set<number>;
  /** Sessions whose transcript request the client dropped before the answer (e.g. its worker was killed). */
  transcriptsAborted: string[];
  close(): Promise<void>;
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `transcriptDelayMs`: the transcript host answers after this long (a slow host keeps jobs active). */
export async function startPeers(opts: { transcriptDelayMs?: number } = {}): Promise<Peers> {
  const peers = {
    slackPosts: [] as string[],
    transcriptGets: 0,
    transcriptsPending: new Set<number>(),
    transcriptsAborted: [] as string[],
  } as Peers;
  const transcripts = await listen((req, res) => {
    peers.transcriptGets++;
    const m = /^\/transcripts\/([\w-]+)\.json$/.exec(req.url ?? '');
    if (req.method !== 'GET' || !m) return void res.writeHead(404).end();
    const answer = () => {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          session_id: m[1],
          segments: [
            { speaker: 'ai', text: 'Tell me about a hard bug.' },
            { speaker: 'candidate', text: 'A lost webhook.' },
          ],
        }),
      );
    };
    if (!opts.transcriptDelayMs) return answer();
    // A client that goes away (a killed worker's sockets are closed by the kernel) ends or closes
    // the socket while the answer is pending.
    const socket = req.socket;
    const port = socket.remotePort!;
    peers.transcriptsPending.add(port);
    let aborted = false;
    const settle = (gone: boolean) => {
      socket.off('end', goneAway).off('close', goneAway);
      if (aborted) return;
      peers.transcriptsPending.delete(port);
      aborted = gone;
      if (gone) peers.transcriptsAborted.push(m[1]);
    };
    const goneAway = () => settle(true);
    socket.once('end', goneAway).once('close', goneAway);
    res.once('finish', () => settle(false));
    setTimeout(() => !aborted && answer(), opts.transcriptDelayMs);
  });
  const slack = await listen((req, res, body) => {
    if (req.method === 'POST' && req.url === '/hooks/slack') peers.slackPosts.push(body);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  peers.transcriptHost = `127.0.0.1:${transcripts.port}`;
  peers.transcriptBaseUrl = `http://127.0.0.1:${transcripts.port}`;
  peers.slackUrl = `http://127.0.0.1:${slack.port}/hooks/slack`;
  peers.close = async () => {
    await Promise.all([transcripts.close(), slack.close()]);
  };
  return peers;
}

/** The service environment that points at the local peers. */
export function peerEnv(peers: Peers): Record<string, string> {
  return { TRANSCRIPT_ALLOWED_HOSTS: peers.transcriptHost, SLACK_WEBHOOK_URL: peers.slackUrl };
}

// ------------------------------------------------------------------------------------------------
// Outcome: what reached the database and Slack

export interface Outcome {
  sent: number;
  acknowledged: number;
  acknowledgedKeys: number;
  processed: number;
  lost: number;
  duplicated: number;
  /**
   * Slack posts repeated because a worker died between Slack accepting a POST and the service
   * recording it, each one recorded by the service (REPEAT_NOTE). Slack's incoming webhooks have
   * no idempotency key, so no receiver can rule these out under SIGKILL; they are reported, and
   * only an unrecorded second post counts as duplicated.
   */
  repeatedAfterCrash: number;
  /** Problems other than lost / duplicated (failed rows, a missing Slack post, an unexpected status). */
  problems: string[];
  lostKeys: string[];
}

/** Runs queries on a fresh connection each time: the server may have been restarted in between. */
export async function withClient<T>(url: string, fn: (q: <R>(sql: string, params?: unknown[]) => Promise<R[]>) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(async (sql, params) => (await c.query(sql, params as unknown[])).rows);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function inspect(dbUrl: string, workload: Workload, peers: Peers, tally: LoadTally): Promise<Outcome> {
  return withClient(dbUrl, (q) => inspectWith(q, workload, peers, tally));
}

async function inspectWith(
  q: <R>(sql: string, params?: unknown[]) => Promise<R[]>,
  workload: Workload,
  peers: Peers,
  tally: LoadTally,
): Promise<Outcome> {
  const db = { query: q };
  const rows = await db.query<{ idempotency_key: string; status: string; n: number }>(
    `SELECT idempotency_key, min(status) AS status, count(*)::int AS n FROM webhook_events GROUP BY idempotency_key`,
  );
  const interviews = await db.query<{ session_id: string; n: number; with_transcript: number }>(
    `SELECT session_id, count(*)::int AS n, count(transcript)::int AS with_transcript FROM interviews GROUP BY session_id`,
  );
  const feedback = await db.query<{ session_id: string; n: number }>(
    `SELECT session_id, count(*)::int AS n FROM feedback GROUP BY session_id`,
  );
  const rowByKey = new Map(rows.map((r) => [r.idempotency_key, r]));
  const interviewBySession = new Map(interviews.map((r) => [r.session_id, r]));
  const feedbackBySession = new Map(feedback.map((r) => [r.session_id, r.n]));
  const flaggedRepeats = new Set(
    (await db.query<{ session_id: string }>(`SELECT session_id FROM notifications WHERE last_error = $1`, [REPEAT_NOTE])).map(
      (r) => r.session_id,
    ),
  );
  let repeatedAfterCrash = 0;
  const slackBySession = new Map<string, number>();
  for (const post of peers.slackPosts) {
    const ids = new Set(post.match(workload.sessionPattern) ?? []);
    for (const id of ids) slackBySession.set(id, (slackBySession.get(id) ?? 0) + 1);
  }

  const problems: string[] = [];
  const dup = { inboxRows: 0, interviewRows: 0, feedbackRows: 0, slackPosts: 0 };
  let processed = 0;
  const lostKeys: string[] = [];
  const failed: string[] = [];
  const missingSlack: string[] = [];
  const missingTranscript: string[] = [];
  for (const d of workload.keys) {
    const row = rowByKey.get(d.key);
    if (row && row.n > 1) dup.inboxRows += row.n - 1;
    if (row?.status === 'failed') failed.push(d.key);
    let done = row?.status === 'processed';
    if (d.event === 'interview.completed') {
      const iv = interviewBySession.get(d.sessionId);
      const posts = slackBySession.get(d.sessionId) ?? 0;
      if (iv && iv.n > 1) dup.interviewRows += iv.n - 1;
      if (posts > 1 && flaggedRepeats.has(d.sessionId)) repeatedAfterCrash += posts - 1;
      else if (posts > 1) dup.slackPosts += posts - 1;
      done = done && !!iv;
      if (done && iv!.with_transcript === 0) missingTranscript.push(d.key);
      if (done && posts === 0) missingSlack.push(d.key);
    } else {
      const n = feedbackBySession.get(d.sessionId) ?? 0;
      if (n > 1) dup.feedbackRows += n - 1;
      done = done && n > 0;
    }
    if (done) processed++;
    if (tally.acknowledgedKeys.has(d.key) && !done) lostKeys.push(d.key);
  }
  const duplicated = dup.inboxRows + dup.interviewRows + dup.feedbackRows + dup.slackPosts;
  if (duplicated) problems.push(`duplicated effects: ${JSON.stringify(dup)}`);
  if (failed.length) problems.push(`${failed.length} inbox row(s) ended 'failed', e.g. ${failed.slice(0, 3).join(', ')}`);
  if (missingSlack.length)
    problems.push(`${missingSlack.length} processed interview(s) without a Slack post, e.g. ${missingSlack.slice(0, 3).join(', ')}`);
  if (missingTranscript.length)
    problems.push(
      `${missingTranscript.length} processed interview(s) without a transcript, e.g. ${missingTranscript.slice(0, 3).join(', ')}`,
    );
  if (tally.unexpected.length) {
    const byStatus = new Map<number, number>();
    for (const u of tally.unexpected) byStatus.set(u.status, (byStatus.get(u.status) ?? 0) + 1);
    problems.push(
      `unexpected answers: ${[...byStatus].map(([s, n]) => `${n}× ${s}`).join(', ')} (first: ${tally.unexpected[0].status} ${tally.unexpected[0].body})`,
    );
  }
  return {
    sent: tally.sent,
    acknowledged: tally.acknowledged,
    acknowledgedKeys: tally.acknowledgedKeys.size,
    processed,
    lost: lostKeys.length,
    duplicated,
    repeatedAfterCrash,
    problems,
    lostKeys,
  };
}

/**
 * Polls until every acknowledged key is processed (or `timeoutMs`), then waits `quietMs` more and
 * inspects again, so that a late duplicate (a job re-run after a stall) is still counted.
 */
export async function settle(
  dbUrl: string,
  workload: Workload,
  peers: Peers,
  tally: LoadTally,
  opts: { timeoutMs: number; quietMs?: number; allKeys?: boolean },
): Promise<Outcome> {
  const deadline = Date.now() + opts.timeoutMs;
  const look = () => inspect(dbUrl, workload, peers, tally).catch(() => undefined);
  let outcome = await look();
  while (Date.now() < deadline) {
    if (outcome) {
      const target = opts.allKeys ? workload.keys.length : outcome.acknowledgedKeys;
      if (outcome.lost === 0 && outcome.processed >= target) break;
    }
    await sleep(500);
    outcome = await look();
  }
  await sleep(opts.quietMs ?? 1500);
  return inspect(dbUrl, workload, peers, tally);
}

export function report(name: string, o: Outcome, extra: Record<string, unknown> = {}, serviceOutput?: string): void {
  const lines = [
    `\n── ${name}`,
    `   sent ${o.sent} · acknowledged (2xx) ${o.acknowledged} deliveries / ${o.acknowledgedKeys} keys · processed ${o.processed} keys · lost ${o.lost} · duplicated effects ${o.duplicated}${o.repeatedAfterCrash ? ` · Slack posts repeated after a crash mid-post (recorded by the service) ${o.repeatedAfterCrash}` : ''}`,
    ...Object.entries(extra).map(([k, v]) => `   ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`),
    ...o.problems.map((p) => `   PROBLEM: ${p}`),
    ...(o.lost ? [`   lost keys, e.g. ${o.lostKeys.slice(0, 5).join(', ')}`] : []),
  ];
  if ((o.lost || o.duplicated || o.problems.length) && serviceOutput) {
    lines.push(`   service output (last 4 kB):\n${serviceOutput.slice(-4096)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Removes a scenario's queue keys from the shared Redis once its service is stopped. */
export async function dropQueueKeys(redisUrl: string | undefined, prefix: string | undefined): Promise<void> {
  if (redisUrl && prefix) await dropKeys(redisUrl, `${prefix}:*`);
}

/**
 * Server settings of the private PostgreSQL cluster that scenario 4 stops and restarts
 * (privatePostgres in scripts/local-services.mjs): sized for a test, not for production.
 */
export const RELIABILITY_PG_SETTINGS = { fsync: 'off', max_connections: 60, shared_buffers: '32MB' };
