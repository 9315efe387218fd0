import { DiscoveryService } from '@nestjs/core';
import { z } from 'zod';
import { isDataError } from '../common/pg-errors.js';
import { DeliveryFields } from './delivery.js';
import { EventDefinition } from './event-definition.js';

/** What a handler gets: the validated payload of one inbox row. */
export interface HandledEvent<D extends EventDefinition = EventDefinition> {
  eventId: string;
  event: string;
  sessionId: string;
  payload: DeliveryFields & z.infer<D['payload']>;
  requestId?: string;
}

/** Handles one event type; the processor dispatches to it. Must be idempotent: a job may run twice. */
export interface EventHandler<D extends EventDefinition = EventDefinition> {
  handle(event: HandledEvent<D>): Promise<void>;
}

/**
 * Marks a provider as the handler of an event type (`@HandlesEvent(definition)` on the class):
 * the processor finds it by this mark, and refuses to boot when a defined event has none.
 */
export const HandlesEvent = DiscoveryService.createDecorator<EventDefinition>();

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
 * of its JOB_ATTEMPTS; such deferrals are bounded separately.
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

/**
 * Whether no retry can fix this failure: a PermanentFailure, or a statement PostgreSQL refused for
 * the data it carried (a value out of range, a bad encoding): the same data fails the same way.
 */
export function isPermanent(err: unknown): boolean {
  return err instanceof PermanentFailure || isDataError(err);
}
