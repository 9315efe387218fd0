import { isDataError } from '../common/pg-errors.js';
import { Delivery, KnownEvent } from '../webhooks/webhook-payload.js';

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
 * of its JOB_ATTEMPTS; such deferrals are bounded separately (MAX_DEFERRALS).
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

export const EVENT_HANDLERS = Symbol('EVENT_HANDLERS');

/** Deferrals (RetryLaterError) do not spend JOB_ATTEMPTS; this bounds them on their own. */
export const MAX_DEFERRALS = 10;
/** A Retry-After longer than this is capped (the sweeper treats long-idle 'processing' rows as stuck). */
export const MAX_DEFER_MS = 5 * 60_000;

export type FailureDecision = { kind: 'defer'; delayMs: number } | { kind: 'dead-letter' } | { kind: 'retry' };

/**
 * The failure policy, the same for a job of its own and for an event in a batch: a Retry-After is
 * honoured (within MAX_DEFERRALS, capped at MAX_DEFER_MS) without spending an attempt; a permanent
 * failure, or a transient one with no attempts left, is a dead letter; anything else is retried.
 */
export function decideFailure(err: Error, ctx: { attemptsLeft: boolean; deferrals: number; canDefer: boolean }): FailureDecision {
  if (err instanceof RetryLaterError && ctx.canDefer && ctx.deferrals < MAX_DEFERRALS) {
    return { kind: 'defer', delayMs: Math.min(Math.max(err.retryAfterMs, 1), MAX_DEFER_MS) };
  }
  if (isPermanent(err) || !ctx.attemptsLeft) return { kind: 'dead-letter' };
  return { kind: 'retry' };
}

