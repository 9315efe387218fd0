import { AdminAuth } from '../admin/admin-auth.js';
import { AdminSession, readCookie, safeNext, SESSION_COOKIE } from './admin-session.js';

type Req = Parameters<AdminSession['check']>[0];

function reply() {
  const r = { code: 0, headers: {} as Record<string, string>, body: undefined as unknown };
  const api = {
    code(c: number) {
      r.code = c;
      return api;
    },
    header(k: string, v: string) {
      r.headers[k] = v;
      return api;
    },
    send(b?: unknown) {
      r.body = b;
      return api;
    },
  };
  return { r, api: api as unknown as Parameters<AdminSession['check']>[1] };
}

let client = 0;
// Each request from its own address, so the failed-attempt limit stays out of these tests.
const req = (headers: Record<string, string>, method = 'GET', url = '/admin/queues') =>
  ({ headers, method, url, protocol: 'http', ip: `10.0.0.${++client % 250}` }) as unknown as Req;
const cookieValue = (setCookie: string) => setCookie.split(';')[0].split('=')[1];

describe('AdminSession', () => {
  const auth = new AdminSession(new AdminAuth('the-token'));

  it('issues an HttpOnly, SameSite=Strict session cookie that opens the dashboard', async () => {
    const set = auth.sessionCookie(req({}), 'admin');
    expect(set).toMatch(/; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=28800$/);
    expect(set).not.toContain('the-token');
    const { api } = reply();
    expect(await auth.check(req({ cookie: `other=1; ${SESSION_COOKIE}=${cookieValue(set)}` }), api)).toBe('admin');
  });

  it('marks the cookie Secure behind https', () => {
    expect(auth.sessionCookie(req({ 'x-forwarded-proto': 'https' }), 'admin')).toContain('; Secure');
  });

  it('refuses an expired, forged, or other-token cookie', async () => {
    const expired = cookieValue(auth.sessionCookie(req({}), 'admin', Math.floor(Date.now() / 1000) - 9 * 3600));
    const other = cookieValue(new AdminSession(new AdminAuth('another-token')).sessionCookie(req({}), 'admin'));
    const [exp, , mac] = cookieValue(auth.sessionCookie(req({}), 'admin')).split('.');
    for (const value of [
      expired,
      other,
      `${exp}.admin.${'0'.repeat(64)}`,
      `${Number(exp) + 1}.admin.${mac}`,
      `${exp}.alice.${mac}`,
      'garbage',
    ]) {
      const { r, api } = reply();
      expect(await auth.check(req({ cookie: `${SESSION_COOKIE}=${value}` }, 'GET', '/admin/queues/api/queues'), api)).toBeUndefined();
      expect(r.code).toBe(401);
    }
  });

  it('accepts the bearer token, sends a browser to the login form, answers API calls 401', async () => {
    expect(await auth.check(req({ authorization: 'Bearer the-token' }), reply().api)).toBe('admin');
    const page = reply();
    expect(await auth.check(req({ accept: 'text/html,*/*' }), page.api)).toBeUndefined();
    expect(page.r).toMatchObject({ code: 303, headers: { location: '/admin/login?next=%2Fadmin%2Fqueues' } });
    const api = reply();
    expect(
      await auth.check(req({ authorization: 'Bearer nope' }, 'PUT', '/admin/queues/api/queues/webhooks/retry/failed'), api.api),
    ).toBeUndefined();
    expect(api.r.code).toBe(401);
  });

  it('names the actor of each named token, and a session is bound to its own token', async () => {
    const named = new AdminSession(
      new AdminAuth([
        { name: 'alice', token: 'alice-token' },
        { name: 'bob', token: 'bob-token' },
      ]),
    );
    expect(await named.check(req({ authorization: 'Bearer bob-token' }), reply().api)).toBe('bob');
    const alice = cookieValue(named.sessionCookie(req({}), 'alice'));
    expect(await named.check(req({ cookie: `${SESSION_COOKIE}=${alice}` }), reply().api)).toBe('alice');
    // Claiming to be bob with alice's signature fails.
    const forged = alice.replace('.alice.', '.bob.');
    expect(
      await named.check(req({ cookie: `${SESSION_COOKIE}=${forged}` }, 'GET', '/admin/queues/api/queues'), reply().api),
    ).toBeUndefined();
  });

  it('answers 429 with Retry-After once a client has failed too often, even with the right token', async () => {
    const limited = new AdminSession(new AdminAuth('the-token'));
    const from = (authorization: string) =>
      ({ headers: { authorization }, method: 'GET', url: '/admin/queues', protocol: 'http', ip: '192.0.2.7' }) as unknown as Req;
    for (let i = 0; i < 11; i++) await limited.check(from('Bearer wrong'), reply().api);
    const blocked = reply();
    expect(await limited.check(from('Bearer the-token'), blocked.api)).toBeUndefined();
    expect(blocked.r.code).toBe(429);
    expect(Number(blocked.r.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('AdminAuth', () => {
  it('compares tokens without throwing on any length', () => {
    const auth = new AdminAuth('the-token');
    expect(auth.tokenMatches('the-token')).toBe(true);
    expect(auth.tokenMatches('')).toBe(false);
    expect(auth.tokenMatches('x'.repeat(10_000))).toBe(false);
  });

  it('blocks a client after MAX_FAILED_ATTEMPTS failures, and only that client', async () => {
    const auth = new AdminAuth('the-token');
    for (let i = 0; i < 10; i++) await auth.recordFailure('a');
    await expect(auth.assertNotBlocked('a')).resolves.toBeUndefined();
    await auth.recordFailure('a');
    await expect(auth.assertNotBlocked('a')).rejects.toMatchObject({ retryAfterSeconds: expect.any(Number) });
    await expect(auth.assertNotBlocked('b')).resolves.toBeUndefined();
  });
});

describe('safeNext and readCookie', () => {
  it('only follows dashboard and console paths after login (no open redirect)', () => {
    expect(safeNext('/admin/queues/queue/webhooks?status=failed')).toBe('/admin/queues/queue/webhooks?status=failed');
    expect(safeNext('/admin/console/events?status=failed&session_id=s-1')).toBe('/admin/console/events?status=failed&session_id=s-1');
    for (const bad of [
      'https://evil.example',
      '//evil.example',
      '/admin/queues//evil',
      '/admin/queues\\evil',
      '/admin/console//evil.example',
      '/admin/queues\r\nSet-Cookie: x=1',
      '/admin/queuesé',
      '/other',
      undefined,
      42,
    ]) {
      expect(safeNext(bad)).toBe('/admin/queues');
    }
  });

  it('reads one cookie among several', () => {
    expect(readCookie('a=1; admin_session=x.y ; b=2', 'admin_session')).toBe('x.y');
    expect(readCookie(undefined, 'admin_session')).toBeUndefined();
  });
});
