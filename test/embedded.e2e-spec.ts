import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deliver, RunningService, startService, StartOptions, waitFor } from './helpers/service.js';

const run = promisify(execFile);
// What a newcomer has: no DATABASE_URL, no REDIS_URL, no WEBHOOK_SECRET (empty counts as unset).
const UNSET = { DATABASE_URL: '', REDIS_URL: '', WEBHOOK_SECRET: '' };

/** Starts the service in the embedded mode and waits until its migrations are applied. */
async function startEmbedded(dataDir: string, opts: StartOptions = {}): Promise<RunningService> {
  const t = await startService({ ...UNSET, DATA_DIR: dataDir }, { timeoutMs: 90_000, ...opts, waitForMigrations: false });
  await waitFor(async () => (await fetch(`${t.baseUrl}/dev/sessions/none`)).status === 200, 30_000);
  return t;
}

describe('embedded mode (no DATABASE_URL outside production)', () => {
  let dataDir: string;
  let t: RunningService;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'wh-embedded-'));
    t = await startEmbedded(dataDir);
  });

  afterAll(async () => {
    await t?.stop();
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('reports ready: database and PostgreSQL-backed queue up, no Redis involved', async () => {
    await waitFor(async () => (await fetch(`${t.baseUrl}/health/ready`)).status === 200, 15_000);
  });

  it('says loudly that it runs embedded and where the data and the generated secret are', () => {
    expect(t.output()).toContain('EMBEDDED MODE');
    expect(t.output()).toContain(join(dataDir, 'pglite'));
    expect(t.output()).toContain(join(dataDir, 'webhook-secret'));
  });

  it('takes a delivery signed with the generated secret, and refuses another secret', async () => {
    const secret = readFileSync(join(dataDir, 'webhook-secret'), 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const ok = await deliver(t.baseUrl, { event: 'session.feedback_submitted', session_id: 'emb-fb', feedback: { rating: 5 } }, { secret });
    expect(ok).toEqual({ status: 200, body: { status: 'accepted', id: expect.any(String) } });
    expect((await deliver(t.baseUrl, { event: 'session.feedback_submitted', session_id: 'emb-x' }, { secret: 'test-secret' })).status).toBe(
      401,
    );
  });

  it('npm run send posts the example interview; it is stored with its transcript and a notification outcome', async () => {
    const { stdout } = await run(
      process.execPath,
      ['dist/cli/send.js', 'interview.completed', '--session', 'emb-1', '--url', `${t.baseUrl}/webhooks/ai-interview`],
      {
        env: { PATH: process.env.PATH, DATA_DIR: dataDir },
        timeout: 30_000,
      },
    );
    expect(stdout).toContain('200 OK');
    expect(stdout).toContain('"status":"accepted"');
    const outcome: any = await (await fetch(`${t.baseUrl}/dev/sessions/emb-1`)).json();
    expect(outcome.events).toEqual([expect.objectContaining({ event: 'interview.completed', status: 'processed' })]);
    expect(outcome.interview).toMatchObject({ participant_email: 'ada@example.com', duration_minutes: 23.5 });
    expect(outcome.interview.transcript).toMatchObject({ session_id: 'emb-1', turns: expect.any(Array) });
    // No SLACK_WEBHOOK_URL here: the outcome is recorded as skipped.
    expect(outcome.notifications).toEqual([expect.objectContaining({ status: 'skipped' })]);
  });

  it('sends the timestamped scheme with the { type, data } envelope, and an unknown event', async () => {
    // An origin alone: the webhook route is added.
    const base = ['--url', t.baseUrl, '--no-wait'];
    const env = { env: { PATH: process.env.PATH, DATA_DIR: dataDir }, timeout: 30_000 };
    const ts = await run(
      process.execPath,
      ['dist/cli/send.js', 'session.feedback_submitted', '--scheme', 'timestamped', '--session', 'emb-ts', ...base],
      env,
    );
    expect(ts.stdout).toContain('x-interviewrelay-timestamp');
    expect(ts.stdout).toContain('"type": "session.feedback_submitted"');
    expect(ts.stdout).toContain('200 OK');
    const unknown = await run(process.execPath, ['dist/cli/send.js', 'interview.scheduled', '--session', 'emb-unknown', ...base], env);
    expect(unknown.stdout).toContain('"status":"accepted"');
  });

  it('listens on loopback only: the dev routes show sessions without authentication', async () => {
    expect((await fetch(`http://127.0.0.1:${t.port}/health/live`)).status).toBe(200);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    expect(external).toBeDefined();
    await expect(fetch(`http://${external}:${t.port}/health/live`)).rejects.toThrow();
  });

  it('answers 400 for a session id PostgreSQL cannot take', async () => {
    expect((await fetch(`${t.baseUrl}/dev/sessions/%00`)).status).toBe(400);
  });

  it("never fetches a transcript from the service's own routes, only its sample transcripts", async () => {
    const secret = readFileSync(join(dataDir, 'webhook-secret'), 'utf8').trim();
    for (const [sessionId, path] of [
      ['emb-steal', '/dev/sessions/emb-1'],
      ['emb-metrics', '/metrics'],
      ['emb-dotdot', '/dev/transcripts/../sessions/emb-1'],
    ]) {
      const url = `http://localhost:${t.port}${path}`;
      expect(
        (await deliver(t.baseUrl, { event: 'interview.completed', session_id: sessionId, transcript_url: url }, { secret })).status,
      ).toBe(200);
      const outcome = await waitFor(async () => {
        const body: any = await (await fetch(`${t.baseUrl}/dev/sessions/${sessionId}`)).json();
        return body.events[0]?.status === 'failed' ? body : undefined;
      }, 20_000);
      expect(outcome.events[0]).toMatchObject({ attempts: 1, last_error: expect.stringMatching(/route of this service/) });
      expect(outcome.interview).toBeNull();
    }
  });

  it('refuses a second process on the same DATA_DIR with one line', async () => {
    await expect(startService({ ...UNSET, DATA_DIR: dataDir }, { timeoutMs: 30_000, waitForMigrations: false })).rejects.toThrow(
      /Refusing to start: .*in use by process/,
    );
  });

  it('keeps its data and secret across a restart', async () => {
    const secretBefore = readFileSync(join(dataDir, 'webhook-secret'), 'utf8');
    expect(await t.stop()).toBe(0);
    // The database was closed cleanly: its lock file is gone.
    expect(existsSync(join(dataDir, 'pglite.pid'))).toBe(false);
    t = await startEmbedded(dataDir);
    expect(t.output()).toContain('using the signing secret saved');
    expect(readFileSync(join(dataDir, 'webhook-secret'), 'utf8')).toBe(secretBefore);
    const outcome: any = await (await fetch(`${t.baseUrl}/dev/sessions/emb-1`)).json();
    expect(outcome.interview).toMatchObject({ participant_email: 'ada@example.com' });
    const again = await deliver(
      t.baseUrl,
      { event: 'session.feedback_submitted', session_id: 'emb-fb', feedback: { rating: 5 } },
      { secret: secretBefore.trim() },
    );
    expect(again.body.status).toBe('duplicate');
  });
});

describe('production without DATABASE_URL', () => {
  // WEBHOOK_SECRET takes the same path (unit-tested in src/embedded/embedded-config.spec.ts).
  it('stops the boot with one line instead of embedding a database', async () => {
    await expect(
      startService({ NODE_ENV: 'production', DATABASE_URL: '' }, { timeoutMs: 20_000, waitForMigrations: false }),
    ).rejects.toThrow(/Refusing to start: DATABASE_URL is required in production/);
  });
});

describe('production settings', () => {
  it('serve no API documents in production unless API_DOCS turns them on', async () => {
    const env = { NODE_ENV: 'production', DATABASE_URL: 'postgres://127.0.0.1:1/none' };
    const [off, on] = await Promise.all([
      startService(env, { timeoutMs: 30_000, waitForMigrations: false }),
      startService({ ...env, API_DOCS: 'true' }, { timeoutMs: 30_000, waitForMigrations: false }),
    ]);
    try {
      for (const path of ['/docs', '/docs-json', '/docs-yaml']) expect((await fetch(`${off.baseUrl}${path}`)).status).toBe(404);
      expect((await fetch(`${on.baseUrl}/docs-json`)).status).toBe(200);
    } finally {
      await Promise.all([off.stop(), on.stop()]);
    }
  });

  it('stop the boot with one line: NODE_ENV written "Production " is production, and an admin token of one repeated character is refused', async () => {
    await expect(
      startService(
        { NODE_ENV: 'Production ', DATABASE_URL: 'postgres://127.0.0.1:1/none', ADMIN_TOKEN: 'a'.repeat(32) },
        { timeoutMs: 20_000, waitForMigrations: false },
      ),
    ).rejects.toThrow(/Refusing to start: ADMIN_TOKEN is one character repeated/);
  });
});
