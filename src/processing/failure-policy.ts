import { isPermanent, RetryLaterError } from '../events/event-handler.js';

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
