import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line written while handling one request or one job carries. */
export interface LogContext {
  requestId?: string;
  eventId?: string;
  jobId?: string;
  /** Who made the admin request in progress (the admin token's name): the audit log's actor. */
  actor?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

export function runWithLogContext<T>(context: LogContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}
