import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AdminAuth } from '../admin/admin-auth.js';
import { ActorRequest, CONSOLE_PATH, readCookie, SESSION_COOKIE } from '../admin/admin-session.js';
import { AuditLog } from '../audit/audit-log.service.js';
import { isStorableString } from '../common/storable.js';
import { knownEvents } from '../events/event-definition.js';
import { ErasureService } from '../privacy/erasure.service.js';
import { eraseConfirmView, EraseForm, eraseFormView, erasureView, replayConfirmView, replayResultView } from './actions.view.js';
import { auditView } from './audit.view.js';
import { CONSOLE_CSS, CONSOLE_JS } from './console-assets.js';
import { filterParams, inboxFilter, parseListQuery, RawQuery, rawQuery, urlWith } from './console-query.js';
import { ConsoleService, MAX_BULK_REPLAY } from './console.service.js';
import { eventView } from './event.view.js';
import { EVENTS_PATH, eventsView } from './events.view.js';
import { renderDocument, type Html } from './html.js';
import { errorPage, PageFrame } from './layout.view.js';
import { overviewView } from './overview.view.js';

/**
 * Everything a console page may load: its own stylesheet and script, nothing inline, no other origin;
 * forms post back to the service; no page can be framed.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const CSRF_COOKIE = 'console_csrf';
const SESSION_MS = 8 * 3600 * 1000;
const uuid = z.uuid();

/** Fixed messages a redirect may ask the event page to show (never text from the URL). */
const EVENT_NOTICES: Record<string, PageFrame['notice']> = {
  replayed: { text: 'Replayed: the event is back in the queue under a fresh job. This page follows it to its outcome.', tone: 'ok' },
  'replayed-unqueued': {
    text: 'Replayed, but the queue did not take it just now: the row is back to received and the sweeper enqueues it.',
    tone: 'ok',
  },
  'not-replayable': { text: 'Only failed or ignored events can be replayed; this one is not (any more).', tone: 'bad' },
};

const email = z
  .string()
  .trim()
  .toLowerCase()
  .max(320)
  .pipe(z.email({ error: 'That is not an email address.' }));
const sessionId = z.string().trim().min(1).max(256).refine(isStorableString, 'That session id holds characters no session id has.');

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ConsoleDeps {
  service: ConsoleService;
  erasures: ErasureService;
  audit: AuditLog;
  auth: AdminAuth;
}

const actorOf = (req: FastifyRequest) => (req as ActorRequest).actor ?? 'unknown';
const https = (req: FastifyRequest) => req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';

function send(reply: FastifyReply, status: number, page: Html): FastifyReply {
  return reply.code(status).header('content-type', 'text/html; charset=utf-8').send(renderDocument(page));
}

/** The form body as strings (prototype-less, from registerBodyParsers), without `_csrf` and empty values. */
function formOf(req: FastifyRequest): RawQuery {
  const { _csrf: _token, ...rest } = rawQuery(req.body);
  return rest;
}

/**
 * The events console's routes under /admin/console, in a Fastify scope of their own: its cookie and
 * CSRF plugins, its security headers and its HTML error pages apply to nothing else. The session gate
 * (registerSessionGate) runs before any of them and sets the actor.
 */
export async function consoleRoutes(scope: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const logger = new Logger('Console');
  const { service } = deps;

  await scope.register(fastifyCookie);
  await scope.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: CONSOLE_PATH, sameSite: 'strict', httpOnly: true },
    // A token is good for this login session only (the session cookie's value), for its 8 hours.
    getUserInfo: (req) => readCookie(req.headers.cookie, SESSION_COOKIE) ?? '',
    csrfOpts: { hmacKey: deps.auth.keyFor('console-csrf'), userInfo: true, validity: SESSION_MS },
  });
  const csrfCheck = (req: FastifyRequest, reply: FastifyReply, done: () => void) => scope.csrfProtection(req, reply, done);
  const csrfToken = (req: FastifyRequest, reply: FastifyReply) =>
    reply.generateCsrf({ userInfo: readCookie(req.headers.cookie, SESSION_COOKIE) ?? '', secure: https(req) });

  scope.addHook('onRequest', async (_req, reply) => {
    void reply
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-frame-options', 'DENY')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store');
  });

  scope.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    let message = status < 500 ? err.message : 'The console could not answer. The details are in the service log.';
    if (err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET')
      message = 'This form is not one the console gave you in this session (or it expired): open the page again and resend it.';
    if (status >= 500) logger.error({ err, requestId: String(req.id) }, 'console request failed');
    return send(reply, status, errorPage({ actor: actorOf(req), status, message, requestId: String(req.id) }));
  });
  scope.setNotFoundHandler((req, reply) =>
    send(
      reply,
      404,
      errorPage({ actor: actorOf(req), status: 404, message: 'There is no such page in the console.', requestId: String(req.id) }),
    ),
  );

  const asset = (type: string, body: string) => (_req: FastifyRequest, reply: FastifyReply) =>
    reply.header('content-type', type).header('cache-control', 'private, max-age=31536000, immutable').send(body);
  scope.get('/assets/console.css', asset('text/css; charset=utf-8', CONSOLE_CSS));
  scope.get('/assets/console.js', asset('text/javascript; charset=utf-8', CONSOLE_JS));

  scope.get('/', async (req, reply) => send(reply, 200, overviewView({ actor: actorOf(req), overview: await service.overview() })));

  scope.get('/events', async (req, reply) => {
    const raw = rawQuery(req.query);
    // A form sends its untouched fields empty: the canonical URL leaves them out, so it can be shared.
    if (Object.keys(raw).length !== Object.keys(req.query ?? {}).length) {
      return reply.code(303).header('location', urlWith(EVENTS_PATH, raw)).send();
    }
    const parsed = parseListQuery(raw);
    const counts = await service.statusCounts();
    const common = { actor: actorOf(req), raw, counts, knownEvents: knownEvents().map((e) => e.name) };
    if (!parsed.ok)
      return send(reply, 400, eventsView({ ...common, errors: parsed.errors, order: raw.order === 'oldest' ? 'oldest' : 'newest' }));
    const q = parsed.value;
    const page = await service.browse(inboxFilter(q), { order: q.order, after: q.after, limit: q.limit });
    return send(reply, 200, eventsView({ ...common, page, order: q.order }));
  });

  const eventPage = async (req: FastifyRequest, reply: FastifyReply, id: string, revealed: boolean, noticeKey?: string) => {
    const event = await service.event(id);
    if (!event) throw new HttpError(404, `There is no event ${id} (erased, expired by retention, or never received).`);
    const [jobs, records, sessionEvents] = await Promise.all([
      service.jobs(event),
      service.records(event.session_id),
      service.browse({ sessionId: event.session_id }, { order: 'oldest', limit: 50 }),
    ]);
    const view = eventView({
      actor: actorOf(req),
      csrf: csrfToken(req, reply),
      event,
      jobs,
      records,
      sessionEvents: sessionEvents.items,
      revealed,
      notice: noticeKey ? EVENT_NOTICES[noticeKey] : undefined,
    });
    return send(reply, 200, view);
  };
  const eventId = (req: FastifyRequest) => {
    const id = (req.params as { id: string }).id;
    if (!uuid.safeParse(id).success) throw new HttpError(404, 'There is no event with that id: an event id is a UUID.');
    return id;
  };

  scope.get('/events/:id', async (req, reply) => eventPage(req, reply, eventId(req), false, rawQuery(req.query).notice));

  scope.get('/events/:id/status', async (req, reply) => {
    const event = await service.event(eventId(req));
    if (!event) throw new HttpError(404, 'no such event');
    return reply.header('content-type', 'application/json').send({ status: event.status, attempts: event.attempts });
  });

  scope.post('/events/:id/reveal', { preHandler: csrfCheck }, async (req, reply) => {
    const id = eventId(req);
    if (!(await service.event(id))) throw new HttpError(404, `There is no event ${id}.`);
    await service.recordReveal(id);
    return eventPage(req, reply, id, true);
  });

  scope.post('/events/:id/replay', { preHandler: csrfCheck }, async (req, reply) => {
    const id = eventId(req);
    const result = await service.replay(id);
    if (result.outcome === 'not_found') throw new HttpError(404, `There is no event ${id}.`);
    const notice = result.outcome === 'conflict' ? 'not-replayable' : result.queued ? 'replayed' : 'replayed-unqueued';
    return reply
      .code(303)
      .header('location', urlWith(`${EVENTS_PATH}/${id}`, { notice }))
      .send();
  });

  /** The filter of a bulk replay: the listing's filter fields (its status is always 'failed'). */
  const replayFilter = (raw: RawQuery) => {
    const filter = filterParams(raw);
    delete filter.status;
    const parsed = parseListQuery(filter);
    if (!parsed.ok) {
      throw new HttpError(
        400,
        `The filter is not valid: ${Object.entries(parsed.errors)
          .map(([k, m]) => `${k} ${m}`)
          .join('; ')}.`,
      );
    }
    return { filter, inbox: inboxFilter(parsed.value) };
  };

  scope.get('/replay', async (req, reply) => {
    const { filter, inbox } = replayFilter(rawQuery(req.query));
    const matching = await service.countDeadLetters(inbox);
    return send(
      reply,
      200,
      replayConfirmView({ actor: actorOf(req), csrf: csrfToken(req, reply), filter, matching, max: MAX_BULK_REPLAY }),
    );
  });

  scope.post('/replay', { preHandler: csrfCheck }, async (req, reply) => {
    const { filter, inbox } = replayFilter(formOf(req));
    const result = await service.replayDeadLetters(inbox);
    return send(reply, 200, replayResultView({ actor: actorOf(req), filter, count: result.count, queued: result.queued }));
  });

  scope.get('/erase', async (req, reply) => {
    const raw = rawQuery(req.query);
    const form: EraseForm = { session_id: raw.session_id };
    return send(reply, 200, eraseFormView({ actor: actorOf(req), csrf: csrfToken(req, reply), form }));
  });

  scope.post('/erase', { preHandler: csrfCheck }, async (req, reply) => {
    const form = formOf(req);
    const typed: EraseForm = { email: form.email, session_id: form.session_id };
    const again = (error: string) =>
      send(reply, 400, eraseFormView({ actor: actorOf(req), csrf: csrfToken(req, reply), form: typed, error }));
    if ((form.email === undefined) === (form.session_id === undefined)) return again('Give an email or a session id (one of them).');
    const subject = form.email !== undefined ? email.safeParse(form.email) : sessionId.safeParse(form.session_id);
    if (!subject.success) return again(subject.error.issues[0]?.message ?? 'That is not valid.');
    const request = form.email !== undefined ? { email: subject.data } : { sessionId: subject.data };
    if (form.confirm !== 'yes') {
      const confirm = form.email !== undefined ? { email: subject.data } : { session_id: subject.data };
      return send(reply, 200, eraseConfirmView({ actor: actorOf(req), csrf: csrfToken(req, reply), form: confirm }));
    }
    const erasure = await deps.erasures.erase(request);
    return reply
      .code(303)
      .header('location', urlWith(`${CONSOLE_PATH}/erasures/${erasure.id}`, { done: 1 }))
      .send();
  });

  scope.get('/erasures/:id', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const erasure = uuid.safeParse(id).success ? await deps.erasures.get(id) : null;
    if (!erasure) throw new HttpError(404, 'There is no such erasure.');
    return send(reply, 200, erasureView({ actor: actorOf(req), erasure, justDone: rawQuery(req.query).done === '1' }));
  });

  scope.get('/audit', async (req, reply) => {
    const raw = rawQuery(req.query);
    const filter = { action: raw.action?.slice(0, 100), actor: raw.actor?.slice(0, 64) };
    const cursor = raw.cursor;
    const bad = cursor !== undefined && !/^[1-9]\d{0,18}$/.test(cursor);
    const valid = (s?: string) => s === undefined || isStorableString(s);
    if (bad || !valid(filter.action) || !valid(filter.actor)) {
      return send(reply, 400, auditView({ actor: actorOf(req), entries: [], filter, error: 'Those filters are not valid.' }));
    }
    const limit = 50;
    const rows = await deps.audit.list({ limit: limit + 1, before: cursor, action: filter.action, actor: filter.actor });
    const entries = rows.slice(0, limit);
    const next = rows.length > limit ? entries[entries.length - 1].id : undefined;
    return send(reply, 200, auditView({ actor: actorOf(req), entries, filter, next }));
  });
}
