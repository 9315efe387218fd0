import { LoggerService, LogLevel } from '@nestjs/common';
import type { AppLogger } from './logger.js';

type PinoLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Nest's LoggerService over the process's pino instance, so `new Logger(Name)` lines are JSON too. */
export class PinoLoggerService implements LoggerService {
  constructor(private readonly logger: AppLogger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params, true);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params, true);
  }

  setLogLevels(_levels: LogLevel[]): void {
    // LOG_LEVEL decides, through pino.
  }

  private write(level: PinoLevel, message: unknown, params: unknown[], mayHaveStack = false): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const rest = [...params];
    // Nest appends the context (the class name given to `new Logger(...)`) as the last argument.
    const context =
      rest.length > 0 && typeof rest[rest.length - 1] === 'string' && !looksLikeStack(rest[rest.length - 1] as string)
        ? (rest.pop() as string)
        : undefined;
    const fields: Record<string, unknown> = {};
    if (context) fields.context = context;
    if (mayHaveStack && typeof rest[0] === 'string' && looksLikeStack(rest[0])) fields.stack = rest.shift();
    let msg: string | undefined;
    if (message instanceof Error) {
      fields.err = message;
      msg = message.message;
    } else if (message && typeof message === 'object') {
      Object.assign(fields, message);
    } else {
      msg = String(message);
    }
    for (const p of rest) {
      if (p instanceof Error) fields.err = p;
      else if (p && typeof p === 'object') Object.assign(fields, p);
      else if (typeof p === 'string') msg = msg === undefined ? p : `${msg} ${p}`;
    }
    this.logger[level](fields, msg);
  }
}

function looksLikeStack(s: string): boolean {
  return /\n\s+at /.test(s);
}
