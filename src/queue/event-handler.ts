import { KnownEvent } from '../webhooks/webhook-payload.js';
import { Delivery } from '../webhooks/webhook-payload.js';

/** What a handler gets: the validated payload of one inbox row. */
export interface HandledEvent {
  eventId: string;
  event: KnownEvent;
  sessionId: string;
  payload: Delivery;
  requestId?: string;
}

/** One per known event type; feature modules implement it and the processor dispatches to it. */
export interface EventHandler {
  readonly event: KnownEvent;
  handle(event: HandledEvent): Promise<void>;
}

/**
 * A failure that no retry can fix (bad data, a 404, a refused host): the event is dead-lettered at
 * once. Any other error is treated as transient and retried with backoff.
 */
export class PermanentFailure extends Error {
  override name = 'PermanentFailure';
}

/**
 * A transient failure that says when to try again (Slack's 429 Retry-After, another worker holding
 * the notification). The processor delays the job by at least `retryAfterMs` without spending one
 * of its JOB_ATTEMPTS; such deferrals are bounded separately (MAX_DEFERRALS in the processor).
 */
export class RetryLaterError extends Error {
  override name = 'RetryLaterError';

  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

export const EVENT_HANDLERS = Symbol('EVENT_HANDLERS');
