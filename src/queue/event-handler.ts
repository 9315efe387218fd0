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

export const EVENT_HANDLERS = Symbol('EVENT_HANDLERS');
