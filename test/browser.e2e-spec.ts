import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { createTestDatabase, deliver, RunningService, startService, TestDatabase, waitFor } from './helpers/service.js';

const ARTIFACTS = join(process.cwd(), 'test', 'artifacts');
const ADMIN_TOKEN = 'dashboard-test-token';

describe('queue dashboard in a browser (/admin/queues)', () => {
  let db: TestDatabase;
  let t: RunningService;
  let browser: Browser;
  let failedId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startService({ DATABASE_URL: db.url, ADMIN_TOKEN });
    // A job that fails for good: its transcript URL points at a host that is never allowed.
    const res = await deliver(t.baseUrl, {
      event: 'interview.completed',
      session_id: 'dash-failed',
      transcript_url: 'http://127.0.0.1:9/refused.json',
    });
    failedId = res.body.id;
    await waitFor(
      async () => (await db.query(`SELECT status FROM webhook_events WHERE id = $1`, [failedId]))[0]?.status === 'failed',
      30_000,
    );
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await db?.drop();
  });

  it('publishes the OpenAPI document: the webhook route with both signature schemes, every payload and response, the admin API', async () => {
    const res = await fetch(`${t.baseUrl}/docs-json`);
    expect(res.status).toBe(200);
    const doc: any = await res.json();
    const op = doc.paths['/webhooks/ai-interview'].post;
    expect(Object.keys(op.responses).sort()).toEqual(['200', '400', '401', '413', '415', '503']);
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual([
      'x-webhook-signature',
      'x-interviewrelay-signature',
      'x-interviewrelay-timestamp',
    ]);
    expect(op.requestBody.content['application/json'].schema.oneOf).toHaveLength(4);
    expect(doc.components.schemas.InterviewCompleted.properties).toHaveProperty('transcript_url');
    expect(doc.components.schemas.SessionFeedbackSubmitted.properties).toHaveProperty('feedback');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/admin/events', '/admin/events/{id}', '/admin/events/{id}/replay', '/admin/events/replay']),
    );
    expect(doc.paths['/dev/sessions/{sessionId}']).toBeUndefined();
    const ui = await fetch(`${t.baseUrl}/docs`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toContain('text/html');
  });

  it('keeps the dashboard behind ADMIN_TOKEN', async () => {
    const page = await fetch(`${t.baseUrl}/admin/queues`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/admin/login?next=%2Fadmin%2Fqueues');
    expect((await fetch(`${t.baseUrl}/admin/queues/api/queues`)).status).toBe(401);
    // Percent-encoding the path does not walk around the gate (the router decodes it).
    expect((await fetch(`${t.baseUrl}/admin/%71ueues/api/queues`)).status).toBe(401);
    expect((await fetch(`${t.baseUrl}/admin/queues/api/queues`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${t.baseUrl}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    // A forged or expired cookie is no session.
    const forged = await fetch(`${t.baseUrl}/admin/queues/api/queues`, {
      headers: { cookie: `admin_session=9999999999.${'0'.repeat(64)}` },
    });
    expect(forged.status).toBe(401);
  });

  it('logs in with the token, shows the webhooks queue and its failed job, and takes a screenshot', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${t.baseUrl}/admin/queues`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');

    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('not an admin token');

    await page.fill('#token', ADMIN_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${t.baseUrl}/admin/queues`);
    await page.getByText('webhooks', { exact: true }).first().waitFor({ timeout: 15_000 });

    const cookie = (await context.cookies()).find((c) => c.name === 'admin_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin' });

    // The row turns 'failed' just before BullMQ records the job as failed: wait for the dashboard's
    // own API to list it, so a slow transition is told apart from a page that does not show it.
    const failedJobs = async () => {
      const res = await fetch(`${t.baseUrl}/admin/queues/api/queues?activeQueue=webhooks&status=failed&page=1&jobsPerPage=10`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const body = (await res.json()) as { queues: Array<{ name: string; counts: unknown; jobs: Array<{ id: string }> }> };
      return body.queues.find((q) => q.name === 'webhooks');
    };
    await waitFor(async () => (await failedJobs())?.jobs.some((j) => j.id === failedId), 15_000).catch(async () => {
      throw new Error(`job ${failedId} is not in the failed list: ${JSON.stringify(await failedJobs())}\n${t.output().slice(-4000)}`);
    });
    const apiCalls: string[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/api/'))
        void r.text().then(
          (b) => apiCalls.push(`${r.request().method()} ${r.url()} -> ${r.status()} ${b.slice(0, 300)}`),
          () => undefined,
        );
    });
    await page.goto(`${t.baseUrl}/admin/queues/queue/webhooks?status=failed`);
    try {
      await page.getByText(failedId).first().waitFor({ timeout: 15_000 });
    } catch (err) {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'queue-dashboard-failed-missing.png'), fullPage: true });
      console.log(apiCalls.join('\n'));
      throw err;
    }
    await page
      .getByText(/refused|not allowed|transcript/i)
      .first()
      .waitFor({ timeout: 15_000 });

    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'queue-dashboard-failed.png');
    await page.screenshot({ path: file, fullPage: true });
    expect(existsSync(file)).toBe(true);
    await context.close();
  });

  it('renders the API docs (Swagger UI) at /docs', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${t.baseUrl}/docs`);
    await page.getByText('/webhooks/ai-interview').first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'api-docs.png'), fullPage: false });
    await page.close();
  });
});
