import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { currentLogContext } from './log-context.js';

export type AppLogger = Logger;

const CENSOR = '[redacted]';
const SECRET_HEADERS = ['x-webhook-signature', 'x-interviewrelay-signature', 'authorization', 'cookie', 'set-cookie'];
const EMAIL_KEYS = ['email', 'invitee_email', 'participant_email', 'participantEmail', 'inviteeEmail'];

/**
 * Paths pino blanks out after its serializers ran (a serialized request's headers). Exact paths
 * only: pino's wildcard paths cost ~25 µs per line, more than the rest of a request's logging.
 */
export const REDACT_PATHS = SECRET_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `headers["${h}"]`]);

/** Keys whose values never reach a log line, at any depth of a logged plain object or array. */
const REDACTED_KEYS = new Set([...SECRET_HEADERS, ...EMAIL_KEYS].map((k) => k.toLowerCase()));
const MAX_REDACT_DEPTH = 8;

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Returns `value` with every REDACTED_KEYS entry censored, copying only the objects on the way to
 * one (a line with nothing to redact costs a walk, no allocation). Plain objects and arrays are
 * walked; other instances (errors, requests) are left to their serializers.
 */
function redactDeep<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== 'object' || depth > MAX_REDACT_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, i) => {
      const redacted = redactDeep(item, depth + 1);
      if (redacted !== item) (copy ??= value.slice())[i] = redacted;
    });
    return (copy ?? value) as T;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    const redacted = item !== undefined && REDACTED_KEYS.has(key.toLowerCase()) ? CENSOR : redactDeep(item, depth + 1);
    if (redacted !== item) (copy ??= { ...value })[key] = redacted;
  }
  return (copy ?? value) as T;
}

// Good enough to keep addresses out of free-text messages; the keys above cover structured fields.
const EMAIL_IN_TEXT = /[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}/gi;

export function scrubEmails(text: string): string {
  return text.replace(EMAIL_IN_TEXT, CENSOR);
}

/** Query parameters whose values never reach a log line, beside REDACTED_KEYS. */
const SECRET_QUERY_KEY = /token|secret|passw|signature|api[-_]?key|^sig$|^key$|^code$/i;
/**
 * Query parameters that may carry personal data: the session and payload filters, and the login's
 * `next`, which holds a filtered URL.
 */
const PERSONAL_QUERY_KEYS = new Set(['session_id', 'payload', 'next']);

/**
 * A URL as it may be logged: the values of secret-looking query parameters (`?token=`), of the
 * session and payload filters (`?session_id=`, `?payload=`, the login's `?next=`) and of any parameter holding an email
 * address become [redacted], the way headers and bodies are redacted; email addresses in the path are
 * scrubbed.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = scrubEmails(q === -1 ? url : url.slice(0, q));
  if (q === -1) return path;
  const params: string[] = [];
  for (const [key, value] of new URLSearchParams(url.slice(q + 1))) {
    const hidden =
      SECRET_QUERY_KEY.test(key) || REDACTED_KEYS.has(key.toLowerCase()) || PERSONAL_QUERY_KEYS.has(key) || scrubEmails(value) !== value;
    params.push(`${encodeURIComponent(key)}=${hidden ? CENSOR : encodeURIComponent(value)}`);
  }
  return `${path}?${params.join('&')}`;
}

/**
 * Errors as pino's standard serializer writes them, without the SQL parameters TypeORM's
 * QueryFailedError carries (payload values, emails): the statement's text stays, its values do not.
 */
function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (out && typeof out === 'object') {
    delete out.parameters;
    const driverError = out.driverError as Record<string, unknown> | undefined;
    if (driverError && typeof driverError === 'object') out.driverError = { ...driverError, parameters: undefined };
  }
  return out;
}

/** A request as logged: method and redacted URL, and its headers (secret ones censored by REDACT_PATHS). */
function serializeRequest(req: { method?: string; url?: unknown; headers?: unknown; ip?: string }): unknown {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactUrl(req.url) : undefined,
    headers: req.headers,
    remoteAddress: req.ip,
  };
}

export interface LoggerSettings {
  level: string;
  /** Human-readable lines (pino-pretty) instead of JSON; ignored when pino-pretty is not installed. */
  pretty?: boolean;
  base?: Record<string, unknown>;
  /** Where lines go (tests); default stdout. */
  destination?: DestinationStream;
  /**
   * With tracing on: the active span's ids, which every line written inside a traced operation then
   * carries (`trace_id`, `span_id`). Unset: lines do not look for a span.
   */
  activeSpan?: () => { traceId: string; spanId: string } | undefined;
}

function loggerOptions(settings: Pick<LoggerSettings, 'level' | 'base' | 'activeSpan'>, root: { logger?: Logger }): LoggerOptions {
  return {
    level: settings.level,
    base: { pid: process.pid, ...settings.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }), log: (object) => redactDeep(object) },
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    serializers: { err: serializeError, error: serializeError, req: serializeRequest },
    // The request id (or job and event id) of the work in progress, on lines written through the
    // root logger (Nest's Logger). Fastify's per-request child loggers carry it as a binding already.
    mixin: settings.activeSpan
      ? withTraceIds(root, settings.activeSpan)
      : (_merge, _level, logger) => (logger === root.logger ? (currentLogContext() ?? {}) : {}),
    hooks: {
      logMethod(args, method) {
        for (let i = 0; i < args.length; i++) {
          if (typeof args[i] === 'string') (args as unknown[])[i] = scrubEmails(args[i] as string);
        }
        method.apply(this, args);
      },
    },
  };
}

/**
 * With tracing on, every line written inside a traced operation (through any logger: Fastify's
 * request loggers too) also names the active span, so a log line leads to its trace. Chosen once,
 * when the logger is made: without tracing the mixin does not look for a span (app.setup.ts passes
 * `activeSpan` only when tracing is on).
 */
function withTraceIds(
  root: { logger?: Logger },
  activeSpan: NonNullable<LoggerSettings['activeSpan']>,
): NonNullable<LoggerOptions['mixin']> {
  return (_merge, _level, logger) => {
    const context = logger === root.logger ? currentLogContext() : undefined;
    const span = activeSpan();
    if (!span) return context ?? {};
    return { ...context, trace_id: span.traceId, span_id: span.spanId };
  };
}

/**
 * The one pino instance of the process: Fastify's request logger and Nest's Logger both write to it.
 * JSON lines by default; pretty lines when asked and pino-pretty can be loaded (a dev dependency).
 */
export async function createLogger(settings: LoggerSettings): Promise<AppLogger> {
  const root: { logger?: Logger } = {};
  const options = loggerOptions(settings, root);
  let destination = settings.destination;
  if (!destination && settings.pretty) {
    try {
      const { default: pretty } = await import('pino-pretty');
      destination = pretty({
        colorize: true,
        sync: true,
        translateTime: 'SYS:HH:MM:ss.l',
        messageFormat: '{if context}[{context}] {end}{if requestId}({requestId}) {end}{msg}',
        ignore: 'pid,hostname,service,role,context,requestId',
      });
    } catch {
      // Not installed (production image): JSON it is.
    }
  }
  root.logger = destination ? pino(options, destination) : pino(options);
  return root.logger;
}
