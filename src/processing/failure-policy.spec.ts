import { PermanentFailure, RetryLaterError } from '../events/event-handler.js';
import { decideFailure, MAX_DEFER_MS, MAX_DEFERRALS } from './failure-policy.js';

describe('decideFailure', () => {
  const ctx = { attemptsLeft: true, deferrals: 0, canDefer: true };

  it('retries a transient error while attempts are left, and dead-letters it after', () => {
    expect(decideFailure(new Error('ECONNRESET'), ctx)).toEqual({ kind: 'retry' });
    expect(decideFailure(new Error('ECONNRESET'), { ...ctx, attemptsLeft: false })).toEqual({ kind: 'dead-letter' });
  });

  it('dead-letters a permanent failure at once', () => {
    expect(decideFailure(new PermanentFailure('transcript host answered 404'), ctx)).toEqual({ kind: 'dead-letter' });
  });

  it('defers by Retry-After without spending an attempt, capped, and bounded in number', () => {
    expect(decideFailure(new RetryLaterError('429', 1500), { ...ctx, attemptsLeft: false })).toEqual({ kind: 'defer', delayMs: 1500 });
    expect(decideFailure(new RetryLaterError('429', 0), ctx)).toEqual({ kind: 'defer', delayMs: 1 });
    expect(decideFailure(new RetryLaterError('429', 24 * 3600_000), ctx)).toEqual({ kind: 'defer', delayMs: MAX_DEFER_MS });
    expect(decideFailure(new RetryLaterError('429', 1000), { ...ctx, deferrals: MAX_DEFERRALS })).toEqual({ kind: 'retry' });
    expect(decideFailure(new RetryLaterError('429', 1000), { ...ctx, canDefer: false })).toEqual({ kind: 'retry' });
  });
});
