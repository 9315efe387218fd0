import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AdminAuth, bearerToken, TooManyAttemptsException } from './admin-auth.js';

export const DASHBOARD_PATH = '/admin/queues';
export const CONSOLE_PATH = '/admin/console';
/** The pages behind the admin login: the queue dashboard and the events console. */
const BROWSER_PATHS = [DASHBOARD_PATH, CONSOLE_PATH];
export const LOGIN_PATH = '/admin/login';
export const LOGOUT_PATH = '/admin/logout';
export const SESSION_COOKIE = 'admin_session';
const SESSION_SECONDS = 8 * 3600;

/** A request to the dashboard or the console let through, with the actor (the admin token's name) it came from. */
export interface ActorRequest {
  actor?: string;
}

/**
 * Browser access to the queue dashboard and the events console, behind the admin tokens
 * (ADMIN_TOKEN, ADMIN_TOKENS).
 *
 * A login form (GET/POST /admin/login) takes a token and answers with an HttpOnly, SameSite=Strict
 * cookie that holds an expiry, the token's name (the actor) and an HMAC of both keyed with that
 * token: the token itself never sits in the browser, rotating a token ends its sessions, and
 * SameSite=Strict keeps other sites from riding the session into the dashboard's retry/clean/remove
 * actions (the console's actions also need a CSRF token: a site on the same host, another port, is
 * same-site). Scripts may send `Authorization: Bearer <token>` instead, as for the admin API. Failed
 * token attempts (form or Bearer) count against the client's limit in AdminAuth, shared with the
 * admin API.
 */
export class AdminSession {
  constructor(private readonly auth: AdminAuth) {}

  /**
   * Lets a request through to the dashboard or the console (its actor), or answers it (303 to the login form, 401,
   * or 429) and returns undefined.
   */
  async check(req: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
    const session = this.sessionActor(req);
    if (session !== undefined) return session;
    const token = bearerToken(req.headers.authorization);
    if (token !== undefined) return this.attempt(req, reply, token);
    const wantsPage = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
    if (wantsPage) {
      void reply
        .code(303)
        .header('location', `${LOGIN_PATH}?next=${encodeURIComponent(req.url)}`)
        .send();
    } else {
      void reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="admin"')
        .send({ statusCode: 401, error: 'Unauthorized', message: `log in at ${LOGIN_PATH} or send Authorization: Bearer <admin token>` });
    }
    return undefined;
  }

  /**
   * Checks a token a client offers: its actor when it is an admin token; otherwise the failure is
   * counted and the request answered (401, or 429 with Retry-After once the client is blocked).
   */
  async attempt(req: FastifyRequest, reply: FastifyReply, candidate: string, onFailure?: () => unknown): Promise<string | undefined> {
    try {
      await this.auth.assertNotBlocked(req.ip);
    } catch (err) {
      if (!(err instanceof TooManyAttemptsException)) throw err;
      void reply.code(429).header('retry-after', String(err.retryAfterSeconds)).send(err.getResponse());
      return undefined;
    }
    const actor = this.auth.authenticate(candidate);
    if (actor !== undefined) return actor;
    await this.auth.recordFailure(req.ip);
    if (onFailure) await onFailure();
    else
      void reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="admin"')
        .send({ statusCode: 401, error: 'Unauthorized', message: 'invalid admin token' });
    return undefined;
  }

  sessionCookie(req: FastifyRequest, actor: string, nowSeconds = Math.floor(Date.now() / 1000)): string {
    const expires = nowSeconds + SESSION_SECONDS;
    const secure = req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
    return `${SESSION_COOKIE}=${expires}.${actor}.${this.mac(actor, expires)}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}${secure}`;
  }

  static clearedCookie(): string {
    return `${SESSION_COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  private mac(actor: string, expires: number, token = this.auth.tokenOf(actor) ?? ''): string {
    return createHmac('sha256', token).update(`dashboard-session:${actor}:${expires}`).digest('hex');
  }

  /** The actor of a valid session cookie (unexpired, signed with that actor's current token). */
  private sessionActor(req: FastifyRequest, nowSeconds = Math.floor(Date.now() / 1000)): string | undefined {
    const value = readCookie(req.headers.cookie, SESSION_COOKIE);
    const match = value ? /^(\d{1,12})\.([\w.-]{1,64})\.([0-9a-f]{64})$/.exec(value) : null;
    if (!match) return undefined;
    const [, expiresText, actor, mac] = match;
    const token = this.auth.tokenOf(actor);
    const expires = Number(expiresText);
    if (token === undefined || expires < nowSeconds) return undefined;
    return timingSafeEqual(Buffer.from(mac, 'hex'), Buffer.from(this.mac(actor, expires, token), 'hex')) ? actor : undefined;
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function isUnder(base: string, path: string | undefined): boolean {
  return path !== undefined && (path === base || path.startsWith(`${base}/`));
}

function decodedPath(url: string): string {
  const path = url.split('?')[0];
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Only same-site relative paths under the dashboard or the console are followed after login (no open
 * redirect), in printable ASCII (no CR/LF or other characters a Location header cannot carry).
 */
export function safeNext(next: unknown): string {
  return typeof next === 'string' &&
    BROWSER_PATHS.some((base) => next.startsWith(base)) &&
    /^[\x21-\x7e]*$/.test(next) &&
    !next.includes('//') &&
    !next.includes('\\')
    ? next
    : DASHBOARD_PATH;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const LOGIN_STYLE = `body{font-family:system-ui,sans-serif;background:#f4f5f7;display:flex;justify-content:center;padding-top:12vh;margin:0}
main{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;min-width:20rem}
label,input,button{display:block;width:100%;box-sizing:border-box}input{margin:.5rem 0 1rem;padding:.5rem}
button{padding:.6rem;background:#1d4ed8;color:#fff;border:0;border-radius:4px;cursor:pointer}.error{color:#b91c1c}`;

/**
 * The login page's Content-Security-Policy: nothing but its own inline style (by its hash) and a form
 * posted back here.
 */
export const LOGIN_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(LOGIN_STYLE).digest('base64')}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

export function loginPage(next: string, error?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>interview-webhooks · admin login</title>
<style>${LOGIN_STYLE}</style></head>
<body><main><form method="post" action="${LOGIN_PATH}">
<h1>interview-webhooks admin</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<label for="token">Admin token (ADMIN_TOKEN or one of ADMIN_TOKENS)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${escapeHtml(next)}">
<button type="submit">Log in</button>
</form></main></body></html>`;
}

/** Where the logins go: the audit log. */
export type LoginRecorder = (action: 'dashboard.login' | 'dashboard.login_failed', actor: string) => Promise<void>;

/**
 * The gate in front of every route under `base` (pages, assets and API): a request let through
 * carries its actor (ActorRequest), for the audit log and the log lines.
 */
export function registerSessionGate(fastify: FastifyInstance, auth: AdminSession, base: string): void {
  fastify.addHook('onRequest', async (req, reply) => {
    // The matched route decides, not the raw URL: the router decodes it (/admin/%71ueues is
    // /admin/queues), so a check on the raw path alone could be walked around.
    if (!isUnder(base, req.routeOptions?.url) && !isUnder(base, decodedPath(req.url))) return;
    // Answered by check() unless allowed through; returning the reply ends the request here.
    const actor = await auth.check(req, reply);
    if (actor === undefined) return reply;
    (req as ActorRequest).actor = actor;
  });
}

/** The login form and the logout, shared by the dashboard and the console (registered once). */
export function registerLoginRoutes(fastify: FastifyInstance, auth: AdminSession, recordLogin: LoginRecorder): void {
  void fastify.register((scope, _opts, done) => {
    // The form's application/x-www-form-urlencoded body is parsed by registerBodyParsers.
    const html = (reply: FastifyReply, code: number, body: string) =>
      reply
        .code(code)
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('content-security-policy', LOGIN_CSP)
        .header('x-frame-options', 'DENY')
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .send(body);

    scope.get(LOGIN_PATH, (req, reply) => html(reply, 200, loginPage(safeNext((req.query as Record<string, unknown>).next))));
    scope.post(LOGIN_PATH, async (req, reply) => {
      const form = (req.body ?? {}) as Record<string, unknown>;
      const next = safeNext(form.next);
      const token = typeof form.token === 'string' ? form.token : '';
      const failed = async () => {
        await recordLogin('dashboard.login_failed', 'anonymous');
        return html(reply, 401, loginPage(next, 'That is not an admin token.'));
      };
      const actor = await auth.attempt(req, reply, token, failed);
      if (actor === undefined) return reply;
      await recordLogin('dashboard.login', actor);
      return reply.code(303).header('set-cookie', auth.sessionCookie(req, actor)).header('location', next).send();
    });
    scope.post(LOGOUT_PATH, (_req, reply) =>
      reply.code(303).header('set-cookie', AdminSession.clearedCookie()).header('location', LOGIN_PATH).send(),
    );
    done();
  });
}
