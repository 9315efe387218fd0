import '../feedback/feedback-submitted.event.js';
import '../interviews/interview-completed.event.js';
import { idempotencyKey, parseDelivery, validateDelivery } from './delivery.js';
import { eventLabel } from './event-definition.js';

const ok = (body: unknown) => {
  const r = validateDelivery(body);
  if (!r.ok) throw new Error(r.message);
  return r.value;
};
const problem = (body: unknown) => {
  const r = validateDelivery(body);
  if (r.ok) throw new Error('expected a problem');
  return r.message;
};

describe('validateDelivery', () => {
  it('accepts the first scheme and derives the idempotency key', () => {
    const v = ok({
      event: 'interview.completed',
      session_id: 's1',
      invitee_email: 'a@b.co',
      total_minutes: 12.5,
      timestamp: '2026-01-15T10:30:00Z',
    });
    expect(v.idempotencyKey).toBe('interview.completed:s1');
  });

  it('normalises the { type, data } envelope to the first scheme', () => {
    const v = ok({ type: 'session.feedback_submitted', data: { session_id: 's2', feedback: { rating: 4 } } });
    expect(v.payload).toEqual({ event: 'session.feedback_submitted', session_id: 's2', feedback: { rating: 4 } });
  });

  it('validates the fields of the event type that arrived, and only the common ones for other types', () => {
    expect(problem({ event: 'interview.completed', session_id: 's', total_minutes: -1 })).toMatch(/total_minutes/);
    expect(ok({ event: 'session.feedback_submitted', session_id: 's', total_minutes: 'whatever' }).payload.total_minutes).toBe('whatever');
    expect(ok({ event: 'interview.scheduled', session_id: 's', invitee_email: 'not checked here' }).event).toBe('interview.scheduled');
    expect(problem({ event: 'interview.scheduled', session_id: 's', timestamp: 'yesterday' })).toMatch(/timestamp/);
  });

  it('keeps unknown events and fields', () => {
    expect(ok({ event: 'interview.scheduled', session_id: 's3', extra: { a: 1 } }).payload.extra).toEqual({ a: 1 });
  });

  it.each([
    [{ session_id: 's' }, /event/],
    [{ event: 'interview.completed' }, /session_id/],
    [{ event: 'interview.completed', session_id: 5 }, /session_id/],
    [{ event: 'interview.completed', session_id: 's', invitee_email: 'nope' }, /invitee_email/],
    [{ event: 'interview.completed', session_id: 's', total_minutes: '12' }, /total_minutes/],
    [{ event: 'interview.completed', session_id: 's', timestamp: 'yesterday' }, /timestamp/],
    // Valid ISO 8601 that PostgreSQL's timestamptz refuses: refused here, naming the field.
    [{ event: 'interview.completed', session_id: 's', timestamp: '0000-01-01T00:00:00Z' }, /timestamp: .*year/],
    [{ event: 'session.feedback_submitted', session_id: 's', timestamp: '2026-11-27T10:00:00+16:00' }, /timestamp: .*offset/],
    [{ event: 'interview.completed', session_id: 's', transcript_url: 'ftp://x/y' }, /transcript_url/],
    [{ event: 'session.feedback_submitted', session_id: 's', feedback: [1] }, /feedback/],
    [{ type: 'x', data: 'nope' }, /data/],
    [[1, 2], /JSON object/],
    [null, /JSON object/],
    [{ event: 'a', session_id: 'nul\u0000' }, /NUL/],
    [{ event: 'a', session_id: 'lone \ud800' }, /surrogate/],
    [{ event: 'a', session_id: 's', extra: { n: Infinity } }, /beyond the range/],
  ])('names the problem in %j', (body, re) => {
    expect(problem(body)).toMatch(re);
  });

  it('refuses deep nesting without overflowing the stack', () => {
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    expect(problem({ event: 'a', session_id: 's', deep })).toMatch(/nested/);
  });
});

describe('parseDelivery', () => {
  it('reports an empty body, invalid UTF-8 and invalid JSON', () => {
    expect(parseDelivery(Buffer.alloc(0))).toMatchObject({ ok: false, message: 'request body is empty' });
    expect(parseDelivery(Buffer.from([0x7b, 0xff, 0x7d]))).toMatchObject({ ok: false, message: 'request body is not valid UTF-8' });
    expect(parseDelivery(Buffer.from('{"event":'))).toMatchObject({ ok: false, message: expect.stringMatching(/not valid JSON/) });
  });

  it('refuses prototype poisoning keys', () => {
    expect(parseDelivery(Buffer.from('{"event":"a","session_id":"s","__proto__":{"x":1}}'))).toMatchObject({
      ok: false,
      message: expect.stringMatching(/JSON/),
    });
  });

  it('parses and validates the signed bytes of a delivery', () => {
    expect(parseDelivery(Buffer.from('{"event":"interview.completed","session_id":"s1"}'))).toMatchObject({
      ok: true,
      value: { sessionId: 's1' },
    });
  });
});

describe('idempotencyKey', () => {
  it('is `${event}:${session_id}` for event names without a colon', () => {
    expect(idempotencyKey('interview.completed', 'abc:def')).toBe('interview.completed:abc:def');
  });

  it('never gives two (event, session_id) pairs the same key, colons on either side', () => {
    const pairs: Array<[string, string]> = [
      ['session.feedback_submitted:abc', 'def'],
      ['session.feedback_submitted', 'abc:def'],
      ['a:b', 'c'],
      ['a', 'b:c'],
      ['a:b:c', ''],
      ['a', '%3Ab:c'],
      ['a', '%3A'],
    ];
    const keys = new Set(pairs.map(([e, s]) => idempotencyKey(e, s)));
    expect(keys.size).toBe(pairs.length);
  });

  it('relies on event names never holding a %, which validation refuses', () => {
    expect(problem({ event: 'a%3Ab', session_id: 'c' })).toMatch(/event/);
  });
});

describe('eventLabel', () => {
  it('folds unknown event types so metric labels stay few', () => {
    expect(eventLabel('interview.completed')).toBe('interview.completed');
    expect(eventLabel('something.new')).toBe('other');
    expect(eventLabel(undefined)).toBe('unknown');
  });
});
