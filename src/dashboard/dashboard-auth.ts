import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const DASHBOARD_PATH = '/admin/queues';
export const LOGIN_PATH = '/admin/login';
export const LOGOUT_PATH = '/admin/logout';
export const SESSION_COOKIE = 'admin_session';
const SESSION_SECONDS = 8 * 3600;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Browser access to the queue dashboard, behind ADMIN_TOKEN.
 *
 * A login form (GET/POST /admin/login) takes the token and answers with an HttpOnly, SameSite=Strict
 * cookie that holds an expiry and an HMAC of it keyed with the token: the token itself never sits in
 * the browser, rotating ADMIN_TOKEN ends every session, and SameSite=Strict keeps other sites from
 * riding the session into the dashboard's retry/clean/remove actions. Scripts may send
 * `Authorization: Bearer <ADMIN_TOKEN>` instead, as for the admin API.
 */
export class DashboardAuth {
  private readonly expectedToken: Buffer;

  constructor(private readonly token: string) {
    this.expectedToken = sha256(token);
  }

  /** Lets a request through to the dashboard, or answers it (303 to the login form, or 401). */
  check(req: FastifyRequest, reply: FastifyReply): boolean {
    if (this.hasValidSession(req) || this.hasValidBearer(req)) return true;
    const wantsPage = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
    if (wantsPage) {
      void reply.code(303).header('location', `${LOGIN_PATH}?next=${encodeURIComponent(req.url)}`).send();
    } else {
      void reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="admin"')
        .send({ statusCode: 401, error: 'Unauthorized', message: `log in at ${LOGIN_PATH} or send Authorization: Bearer <ADMIN_TOKEN>` });
    }
    return false;
  }

  tokenMatches(candidate: string): boolean {
    return timingSafeEqual(sha256(candidate), this.expectedToken);
  }

  sessionCookie(req: FastifyRequest, nowSeconds = Math.floor(Date.now() / 1000)): string {
    const expires = nowSeconds + SESSION_SECONDS;
    const secure = req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
    return `${SESSION_COOKIE}=${expires}.${this.mac(expires)}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}${secure}`;
  }

  static clearedCookie(): string {
    return `${SESSION_COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  private mac(expires: number): string {
    return createHmac('sha256', this.token).update(`dashboard-session:${expires}`).digest('hex');
  }

  private hasValidSession(req: FastifyRequest, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
    const value = readCookie(req.headers.cookie, SESSION_COOKIE);
    const match = value ? /^(\d{1,12})\.([0-9a-f]{64})$/.exec(value) : null;
    if (!match) return false;
    const expires = Number(match[1]);
    if (expires < nowSeconds) return false;
    return timingSafeEqual(Buffer.from(match[2], 'hex'), Buffer.from(this.mac(expires), 'hex'));
  }

  private hasValidBearer(req: FastifyRequest): boolean {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return match !== null && this.tokenMatches(match[1]);
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function isDashboardPath(path: string | undefined): boolean {
  return path !== undefined && (path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`));
}

function decodedPath(url: string): string {
  const path = url.split('?')[0];
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Only same-site relative paths under the dashboard are followed after login (no open redirect). */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && next.startsWith(`${DASHBOARD_PATH}`) && !next.includes('//') ? next : DASHBOARD_PATH;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function loginPage(next: string, error?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>interview-webhooks · admin login</title>
<style>body{font-family:system-ui,sans-serif;background:#f4f5f7;display:flex;justify-content:center;padding-top:12vh}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;min-width:20rem}
label,input,button{display:block;width:100%;box-sizing:border-box}input{margin:.5rem 0 1rem;padding:.5rem}
button{padding:.6rem;background:#2563eb;color:#fff;border:0;border-radius:4px;cursor:pointer}.error{color:#b91c1c}</style></head>
<body><form method="post" action="${LOGIN_PATH}">
<h1>Queue dashboard</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<label for="token">Admin token (ADMIN_TOKEN)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${escapeHtml(next)}">
<button type="submit">Log in</button>
</form></body></html>`;
}

/** Registers the login routes and the gate in front of every dashboard route (pages, assets and API). */
export function registerDashboardAuth(fastify: FastifyInstance, auth: DashboardAuth): void {
  fastify.addHook('onRequest', (req, reply, done) => {
    // The matched route decides, not the raw URL: the router decodes it (/admin/%71ueues is
    // /admin/queues), so a check on the raw path alone could be walked around.
    if (!isDashboardPath(req.routeOptions?.url) && !isDashboardPath(decodedPath(req.url))) return done();
    if (auth.check(req, reply)) done();
  });

  void fastify.register(async (scope) => {
    // Nest's Fastify adapter already parses application/x-www-form-urlencoded bodies (the form's).
    const html = (reply: FastifyReply, code: number, body: string) =>
      reply.code(code).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(body);

    scope.get(LOGIN_PATH, async (req, reply) => html(reply, 200, loginPage(safeNext((req.query as Record<string, unknown>).next))));
    scope.post(LOGIN_PATH, async (req, reply) => {
      const form = (req.body ?? {}) as Record<string, unknown>;
      const next = safeNext(form.next);
      if (typeof form.token !== 'string' || !auth.tokenMatches(form.token)) {
        return html(reply, 401, loginPage(next, 'That is not the admin token.'));
      }
      return reply.code(303).header('set-cookie', auth.sessionCookie(req)).header('location', next).send();
    });
    scope.post(LOGOUT_PATH, async (_req, reply) => reply.code(303).header('set-cookie', DashboardAuth.clearedCookie()).header('location', LOGIN_PATH).send());
  });
}
