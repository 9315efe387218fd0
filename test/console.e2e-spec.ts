import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { axeViolations, focusIsVisible, launchChromium, tabTo } from './helpers/browser.js';
import { json, Peer, startPeer } from './helpers/peers.js';
import { createTestDatabase, deliver, RunningService, startService, TestDatabase, waitFor } from './helpers/service.js';

/**
 * The events console (/admin/console) in Chromium, against the real service, PostgreSQL, Redis and a
 * transcript host on 127.0.0.1: an operator's day (log in, find a session's events, read one, reveal
 * its payload, replay a dead letter, replay the ones a filter matches, erase a session), each page
 * checked with axe-core, the main flow driven by the keyboard alone, a payload of markup shown as
 * text, a same-site form from another origin refused without the CSRF token, and every action in the
 * audit log under the operator's name.
 *
 * The screenshots go to test/artifacts/; with UPDATE_DOCS_SCREENSHOTS=1 also to docs/images/, where
 * docs/operations.md shows them.
 */
const TOKENS = { alice: 'alice-console-token-0123456789', bob: 'bob-console-token-0123456789' };
const ARTIFACTS = join(process.cwd(), 'test', 'artifacts');
const DOCS_IMAGES = join(process.cwd(), 'docs', 'images');
const HOSTILE =
  '<script>document.title="pwned";window.__pwned=1</script><img src=x onerror="window.__pwned=2"> <!channel> <https://evil.example|click me> *bold*';

describe('the events console in a browser (/admin/console)', () => {
  let db: TestDatabase;
  let t: RunningService;
  let host: Peer;
  let attacker: Peer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Sessions whose transcript the host serves; any other gets 404 (a permanent failure: a dead letter). */
  const serving = new Set<string>(['console-ok', 'erase-me']);
  const ids: Record<string, string> = {};
  const checked: string[] = [];

  const statusOf = async (id: string) => (await db.query(`SELECT status FROM webhook_events WHERE id = $1`, [id]))[0]?.status as string;
  const interview = (session: string, extra: Record<string, unknown> = {}) => ({
    event: 'interview.completed',
    session_id: session,
    invitee_email: `${session}@example.com`,
    transcript_url: `${host.url}/t/${session}.json`,
    total_minutes: 12,
    ...extra,
  });

  async function send(key: string, body: Record<string, unknown>, settled = ['processed', 'failed', 'ignored']): Promise<void> {
    const res = await deliver(t.baseUrl, body);
    expect(res.status).toBe(200);
    ids[key] = res.body.id;
    await waitFor(async () => settled.includes(await statusOf(res.body.id)), 30_000);
  }

  /** axe-core on the page as it is: no serious or critical violation. */
  async function accessible(name: string): Promise<void> {
    const violations = await axeViolations(page);
    expect({ page: name, violations }).toEqual({ page: name, violations: [] });
    checked.push(name);
  }

  async function screenshot(name: string, fullPage = false): Promise<void> {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, `console-${name}.png`);
    await page.screenshot({ path: file, fullPage });
    if (process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
      mkdirSync(DOCS_IMAGES, { recursive: true });
      copyFileSync(file, join(DOCS_IMAGES, `console-${name}.png`));
    }
  }

  const consoleUrl = (path = '') => `${t.baseUrl}/admin/console${path}`;

  beforeAll(async () => {
    host = await startPeer((req, res) => {
      const session = /^\/t\/(.+)\.json$/.exec(req.url)?.[1];
      if (session && serving.has(decodeURIComponent(session))) return json(res, 200, { segments: [{ speaker: 'ai', text: 'Hello' }] });
      res.writeHead(404).end();
    });
    attacker = await startPeer();
    db = await createTestDatabase();
    t = await startService({
      DATABASE_URL: db.url,
      ADMIN_TOKENS: `alice:${TOKENS.alice},bob:${TOKENS.bob}`,
      TRANSCRIPT_ALLOWED_HOSTS: host.host,
    });
    await send('ok', interview('console-ok'));
    await send('okFeedback', {
      event: 'session.feedback_submitted',
      session_id: 'console-ok',
      feedback: { rating: 5, comment: 'Clear questions' },
    });
    await send('dead', interview('console-dead'));
    for (const n of [1, 2, 3]) await send(`outage${n}`, interview(`outage-${n}`, { campaign: 'night-outage' }));
    await send('otherDead', interview('other-dead'));
    await send('hostile', {
      event: 'session.feedback_submitted',
      session_id: '<svg onload="window.__pwned=3">',
      feedback: { rating: 1, comment: HOSTILE },
      note: '</code></pre><script>window.__pwned=4</script>',
    });
    await send('erasable', interview('erase-me'));
    expect(await statusOf(ids.dead)).toBe('failed');
    expect(await statusOf(ids.ok)).toBe('processed');
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    page = await context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await host?.close();
    await attacker?.close();
    await db?.drop();
  });

  it('is behind the admin login: a browser is sent to the login form, a wrong token named, the right one let in', async () => {
    const anonymous = await fetch(consoleUrl('/events?status=failed'), { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/admin/login?next=%2Fadmin%2Fconsole%2Fevents%3Fstatus%3Dfailed');
    expect((await fetch(consoleUrl('/events'))).status).toBe(401);
    // Percent-encoding the path does not walk around the gate.
    expect((await fetch(`${t.baseUrl}/admin/%63onsole/events`)).status).toBe(401);

    await page.goto(consoleUrl('/events?status=failed'));
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await accessible('login');
    await page.fill('#token', 'not-a-token');
    await page.click('button[type=submit]');
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('not an admin token');
    await page.fill('#token', TOKENS.alice);
    await page.click('button[type=submit]');
    await page.waitForURL(consoleUrl('/events?status=failed'));
    await expect(page.locator('header').textContent()).resolves.toContain('Signed in as alice');
  });

  it('shows the overview: the last hour and day, the backlog, the oldest delivery waiting', async () => {
    await page.goto(consoleUrl());
    const table = await page.locator('table').innerText();
    expect(table).toMatch(/Received\s+9\s+9/);
    expect(table).toMatch(/Dead-lettered\s+5\s+5/);
    await expect(page.locator('.card').nth(2).innerText()).resolves.toContain('5');
    await accessible('overview');
    await screenshot('overview');
  });

  it('filters to a session: the filter lives in the URL, and the same URL opens the same view', async () => {
    await page.goto(consoleUrl('/events'));
    await accessible('events');
    await screenshot('events', true);
    await page.fill('#f-session_id', 'console-ok');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL((url) => url.searchParams.get('session_id') === 'console-ok');
    // The untouched fields are left out of the URL.
    expect(new URL(page.url()).search).toBe('?session_id=console-ok&order=newest&limit=50');
    const rows = await page.locator('main table tbody tr').allInnerTexts();
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toContain('console-ok');

    const shared = await context.newPage();
    await shared.goto(page.url());
    expect(await shared.locator('main table tbody tr').allInnerTexts()).toEqual(rows);
    await shared.close();

    // Bad filters are named in the form (400), never a server error.
    const bad = await page.goto(consoleUrl('/events?attempts_min=-1&payload=%7Bnope&from=yesterday&cursor=forged'));
    expect(bad?.status()).toBe(400);
    await expect(page.locator('#f-payload-error').textContent()).resolves.toContain('must be JSON');
    await expect(page.locator('#f-attempts_min-error').isVisible()).resolves.toBe(true);
    await accessible('events with errors');
  });

  it('opens an event: its delivery, outcome, records, jobs; the payload masked until revealed, and the reveal audited', async () => {
    await page.goto(consoleUrl('/events?session_id=console-ok&event=interview.completed'));
    await page.click('main table tbody tr a');
    await page.waitForURL(consoleUrl(`/events/${ids.ok}`));
    const text = await page.locator('main').innerText();
    expect(text).toContain('X-Webhook-Signature: HMAC-SHA256 of the body');
    expect(text).toContain('processed');
    expect(text).toMatch(/has transcript\s+yes/);
    expect(text).toContain('notification slack.interview_completed');
    // Masked: the email and the transcript URL are not on the page, what they are is.
    expect(text).not.toContain('console-ok@example.com');
    expect(text).toContain(`‹hidden: string, ${'console-ok@example.com'.length} characters›`);
    await accessible('event');
    await screenshot('event', true);

    await page.click('text=Reveal the payload');
    await page.waitForSelector('text=Shown in full');
    await expect(page.locator('pre.json').innerText()).resolves.toContain('"invitee_email": "console-ok@example.com"');
    await accessible('event, revealed');
    const reveal = await db.query(`SELECT actor FROM audit_log WHERE action = 'event.reveal' AND target = $1`, [ids.ok]);
    expect(reveal).toEqual([{ actor: 'alice' }]);
  });

  it('replays a dead letter, shows the error of its failed attempt, and follows it to processed', async () => {
    await page.goto(consoleUrl(`/events/${ids.dead}`));
    const before = await page.locator('main').innerText();
    expect(before).toContain('failed');
    expect(before).toMatch(/transcript .*404/i);
    await screenshot('dead-letter');
    serving.add('console-dead');
    await page.click('button:text("Replay this event")');
    await page.waitForURL((url) => url.searchParams.get('notice') === 'replayed');
    await expect(page.locator('[role=status]').first().textContent()).resolves.toContain('Replayed');
    // The page's script polls the event's status and reloads once it moves on.
    await page.locator('#event-status[data-status="processed"]').waitFor({ timeout: 30_000 });
    expect(await statusOf(ids.dead)).toBe('processed');
    await accessible('event, replayed');
  });

  it('replays every dead letter a filter matches, after a confirmation that says how many', async () => {
    await page.goto(consoleUrl(`/events?status=failed&payload=${encodeURIComponent('{"campaign":"night-outage"}')}`));
    expect(await page.locator('main table tbody tr').count()).toBe(3);
    for (const n of [1, 2, 3]) serving.add(`outage-${n}`);
    await page.click('text=Replay the dead letters that match');
    await page.waitForURL((url) => url.pathname === '/admin/console/replay');
    await expect(page.locator('main').innerText()).resolves.toMatch(/3 dead letters match/);
    await accessible('bulk replay, confirmation');
    await screenshot('bulk-replay');
    await page.click('button:text("Replay 3 dead letters")');
    await page.waitForSelector('text=Replayed 3 dead letters.');
    await accessible('bulk replay, result');
    for (const n of [1, 2, 3]) await waitFor(async () => (await statusOf(ids[`outage${n}`])) === 'processed', 30_000);
    // The dead letter outside the filter stays one.
    expect(await statusOf(ids.otherDead)).toBe('failed');
  });

  it('renders a payload of markup as text: no script runs, no element is made from it', async () => {
    const alerts: string[] = [];
    page.on('dialog', (d) => {
      alerts.push(d.message());
      void d.dismiss();
    });
    await page.goto(consoleUrl(`/events?session_id=${encodeURIComponent('<svg onload="window.__pwned=3">')}`));
    await expect(page.locator('main table tbody').innerText()).resolves.toContain('<svg onload="window.__pwned=3">');
    await page.click('main table tbody tr a');
    await page.click('text=Reveal the payload');
    await page.waitForSelector('text=Shown in full');
    const shown = await page.locator('pre.json').innerText();
    expect(shown).toContain(JSON.stringify(HOSTILE));
    expect(shown).toContain('</code></pre><script>window.__pwned=4</script>');
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.title()).not.toBe('pwned');
    expect(await page.locator('main script, main img, main svg, pre.json a').count()).toBe(0);
    expect(alerts).toEqual([]);
  });

  it('refuses a same-site form from another origin without the CSRF token (the session cookie does go with it)', async () => {
    const other = ids.otherDead;
    attacker.route('/', (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end(
        `<form method="post" action="${consoleUrl(`/events/${other}/replay`)}"><input name="x" value="1"></form>
         <script>document.forms[0].submit()</script>`,
      ),
    );
    const refused = page.waitForResponse((r) => r.url().endsWith(`/events/${other}/replay`));
    await page.goto(attacker.url);
    const res = await refused;
    expect(res.status()).toBe(403);
    await expect(page.locator('main').innerText()).resolves.toContain('not one the console gave you');
    expect(await statusOf(other)).toBe('failed');
    await accessible('error page');

    // A token from another login session is no token: one for bob does not pass with alice's session.
    const login = async (token: string) => {
      const r = await fetch(`${t.baseUrl}/admin/login`, {
        method: 'POST',
        body: new URLSearchParams({ token, next: '/admin/console/events' }),
        redirect: 'manual',
      });
      return r.headers.get('set-cookie')!.split(';')[0];
    };
    const bobSession = await login(TOKENS.bob);
    const bobPage = await fetch(consoleUrl(`/events/${other}`), { headers: { cookie: bobSession } });
    const bobToken = /name="_csrf" value="([^"]+)"/.exec(await bobPage.text())![1];
    const bobCsrf = bobPage.headers.get('set-cookie')!.split(';')[0];
    const aliceSession = await login(TOKENS.alice);
    const forged = await fetch(consoleUrl(`/events/${other}/replay`), {
      method: 'POST',
      headers: { cookie: `${aliceSession}; ${bobCsrf}` },
      body: new URLSearchParams({ _csrf: bobToken }),
      redirect: 'manual',
    });
    expect(forged.status).toBe(403);
    // And with its own session the same token works.
    const own = await fetch(consoleUrl(`/events/${other}/replay`), {
      method: 'POST',
      headers: { cookie: `${bobSession}; ${bobCsrf}` },
      body: new URLSearchParams({ _csrf: bobToken }),
      redirect: 'manual',
    });
    expect(own.status).toBe(303);
    await waitFor(async () => (await statusOf(other)) === 'failed', 30_000).catch(() => undefined);
  });

  it('erases a session after a confirmation, and shows what was erased', async () => {
    await page.goto(consoleUrl(`/events/${ids.erasable}`));
    await page.click('text=Erase this session');
    await expect(page.locator('#erase-session').inputValue()).resolves.toBe('erase-me');
    await accessible('erase, form');
    await page.click('button:text("Continue")');
    await expect(page.locator('main').innerText()).resolves.toContain('Everything stored about the session erase-me will be deleted');
    await accessible('erase, confirmation');
    await page.click('button:text("Erase for good")');
    await page.waitForURL(/\/admin\/console\/erasures\/[0-9a-f-]+\?done=1$/);
    const result = await page.locator('main').innerText();
    expect(result).toMatch(/inbox events\s+1/);
    expect(result).toMatch(/interviews\s+1/);
    await accessible('erasure');
    expect(await db.query(`SELECT 1 FROM webhook_events WHERE session_id = 'erase-me'`)).toEqual([]);
  });

  it('lists every action in the audit log under the name of who did it', async () => {
    await page.goto(`${consoleUrl('/audit')}?actor=alice`);
    await accessible('audit log');
    await screenshot('audit');
    const rows: Array<{ actor: string; action: string; target: string | null; counts: Record<string, number> | null }> = await db.query(
      `SELECT actor, action, target, counts FROM audit_log ORDER BY id`,
    );
    const alice = rows.filter((r) => r.actor === 'alice');
    expect(alice.map((r) => r.action)).toEqual(
      expect.arrayContaining(['dashboard.login', 'event.reveal', 'event.replay', 'events.replay', 'erasure']),
    );
    expect(alice.find((r) => r.action === 'event.replay')?.target).toBe(ids.dead);
    expect(alice.find((r) => r.action === 'events.replay')?.counts).toEqual({ failed: 3 });
    expect(rows.filter((r) => r.actor === 'bob').map((r) => r.action)).toEqual(expect.arrayContaining(['dashboard.login', 'event.replay']));
    expect(rows.find((r) => r.action === 'dashboard.login_failed')?.actor).toBe('anonymous');
    const listed = await page.locator('main table tbody').innerText();
    for (const action of ['event.reveal', 'event.replay', 'events.replay', 'erasure']) expect(listed).toContain(action);
  });

  it('can be used with the keyboard alone: skip link, filter, open an event, reveal its payload', async () => {
    await page.goto(consoleUrl());
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.className')).toBe('skip');
    expect(await focusIsVisible(page)).toBe(true);
    await tabTo(page, 'header a[href="/admin/console/events"]');
    await page.keyboard.press('Enter');
    await page.waitForURL(consoleUrl('/events'));
    await tabTo(page, '#f-session_id');
    expect(await focusIsVisible(page)).toBe(true);
    await page.keyboard.type('console-ok');
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.searchParams.get('session_id') === 'console-ok');
    await tabTo(page, 'main table tbody a');
    expect(await focusIsVisible(page)).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/admin\/console\/events\/[0-9a-f-]+$/);
    await tabTo(page, 'form[action$="/reveal"] button');
    expect(await focusIsVisible(page)).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForSelector('text=Shown in full');
  });

  it("shows the event's trace id where tracing stores one (the inbox's trace_id column)", async () => {
    const page = () =>
      fetch(consoleUrl(`/events/${ids.ok}`), { headers: { authorization: `Bearer ${TOKENS.alice}` } }).then((r) => r.text());
    expect(await page()).not.toContain('Trace id');
    // Tracing's migration adds the column; here the test stands in for it.
    await db.query(`ALTER TABLE webhook_events ADD COLUMN IF NOT EXISTS trace_id text`);
    await db.query(`UPDATE webhook_events SET trace_id = '4bf92f3577b34da6a3ce929d0e0e4736' WHERE id = $1`, [ids.ok]);
    expect(await page()).toMatch(/<dt>Trace id<\/dt>\s*<dd class="mono">4bf92f3577b34da6a3ce929d0e0e4736<\/dd>/);
  });

  it('sends a strict Content-Security-Policy and escapes what it shows', async () => {
    const res = await fetch(consoleUrl('/events'), { headers: { authorization: `Bearer ${TOKENS.alice}` } });
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const body = await res.text();
    expect(body).not.toContain('<svg onload');
    expect(body).toContain('&lt;svg onload=&quot;window.__pwned=3&quot;&gt;');
    // Every page axe looked at.
    expect(checked.length).toBeGreaterThanOrEqual(14);
    expect(existsSync(join(ARTIFACTS, 'console-overview.png'))).toBe(true);
  });
});
