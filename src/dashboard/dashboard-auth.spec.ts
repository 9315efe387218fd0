import { DashboardAuth, readCookie, safeNext, SESSION_COOKIE } from './dashboard-auth.js';

type Req = Parameters<DashboardAuth['check']>[0];

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
  return { r, api: api as unknown as Parameters<DashboardAuth['check']>[1] };
}

const req = (headers: Record<string, string>, method = 'GET', url = '/admin/queues') => ({ headers, method, url, protocol: 'http' }) as unknown as Req;
const cookieValue = (setCookie: string) => setCookie.split(';')[0].split('=')[1];

describe('DashboardAuth', () => {
  const auth = new DashboardAuth('the-token');

  it('issues an HttpOnly, SameSite=Strict session cookie that opens the dashboard', () => {
    const set = auth.sessionCookie(req({}));
    expect(set).toMatch(/; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=28800$/);
    expect(set).not.toContain('the-token');
    const { api } = reply();
    expect(auth.check(req({ cookie: `other=1; ${SESSION_COOKIE}=${cookieValue(set)}` }), api)).toBe(true);
  });

  it('marks the cookie Secure behind https', () => {
    expect(auth.sessionCookie(req({ 'x-forwarded-proto': 'https' }))).toContain('; Secure');
  });

  it('refuses an expired, forged, or other-token cookie', () => {
    const expired = cookieValue(auth.sessionCookie(req({}), Math.floor(Date.now() / 1000) - 9 * 3600));
    const other = cookieValue(new DashboardAuth('another-token').sessionCookie(req({})));
    const [exp] = cookieValue(auth.sessionCookie(req({}))).split('.');
    for (const value of [expired, other, `${exp}.${'0'.repeat(64)}`, `${Number(exp) + 1}.${cookieValue(auth.sessionCookie(req({}))).split('.')[1]}`, 'garbage']) {
      const { r, api } = reply();
      expect(auth.check(req({ cookie: `${SESSION_COOKIE}=${value}` }, 'GET', '/admin/queues/api/queues'), api)).toBe(false);
      expect(r.code).toBe(401);
    }
  });

  it('accepts the bearer token, sends a browser to the login form, answers API calls 401', () => {
    expect(auth.check(req({ authorization: 'Bearer the-token' }), reply().api)).toBe(true);
    const page = reply();
    expect(auth.check(req({ accept: 'text/html,*/*' }), page.api)).toBe(false);
    expect(page.r).toMatchObject({ code: 303, headers: { location: '/admin/login?next=%2Fadmin%2Fqueues' } });
    const api = reply();
    expect(auth.check(req({ authorization: 'Bearer nope' }, 'PUT', '/admin/queues/api/queues/webhooks/retry/failed'), api.api)).toBe(false);
    expect(api.r.code).toBe(401);
  });

  it('compares tokens without throwing on any length', () => {
    expect(auth.tokenMatches('the-token')).toBe(true);
    expect(auth.tokenMatches('')).toBe(false);
    expect(auth.tokenMatches('x'.repeat(10_000))).toBe(false);
  });
});

describe('safeNext and readCookie', () => {
  it('only follows dashboard paths after login (no open redirect)', () => {
    expect(safeNext('/admin/queues/queue/webhooks?status=failed')).toBe('/admin/queues/queue/webhooks?status=failed');
    for (const bad of ['https://evil.example', '//evil.example', '/admin/queues//evil', '/other', undefined, 42]) expect(safeNext(bad)).toBe('/admin/queues');
  });

  it('reads one cookie among several', () => {
    expect(readCookie('a=1; admin_session=x.y ; b=2', 'admin_session')).toBe('x.y');
    expect(readCookie(undefined, 'admin_session')).toBeUndefined();
  });
});
