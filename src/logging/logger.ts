import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { currentLogContext } from './log-context.js';

export type AppLogger = Logger;

const CENSOR = '[redacted]';
const SECRET_HEADERS = ['x-webhook-signature', 'x-interviewrelay-signature', 'authorization', 'cookie', 'set-cookie'];
const EMAIL_KEYS = ['email', 'invitee_email', 'participant_email', 'participantEmail', 'inviteeEmail'];

/** Paths pino blanks out wherever a request, its headers or a payload is logged. */
export const REDACT_PATHS = [
  ...SECRET_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `headers["${h}"]`, `*.headers["${h}"]`]),
  // fast-redact wildcards match one level each: cover emails up to three levels deep.
  ...EMAIL_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]),
];

// Good enough to keep addresses out of free-text messages; the keys above cover structured fields.
const EMAIL_IN_TEXT = /[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}/gi;

export function scrubEmails(text: string): string {
  return text.replace(EMAIL_IN_TEXT, CENSOR);
}

export interface LoggerSettings {
  level: string;
  /** Human-readable lines (pino-pretty) instead of JSON; ignored when pino-pretty is not installed. */
  pretty?: boolean;
  base?: Record<string, unknown>;
  /** Where lines go (tests); default stdout. */
  destination?: DestinationStream;
}

function loggerOptions(settings: Pick<LoggerSettings, 'level' | 'base'>, root: { logger?: Logger }): LoggerOptions {
  return {
    level: settings.level,
    base: { pid: process.pid, ...settings.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    // The request id (or job and event id) of the work in progress, on lines written through the
    // root logger (Nest's Logger). Fastify's per-request child loggers carry it as a binding already.
    mixin: (_merge, _level, logger) => (logger === root.logger ? (currentLogContext() ?? {}) : {}),
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
