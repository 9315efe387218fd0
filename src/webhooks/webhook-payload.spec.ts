import { eventLabel, parseDelivery, validateDelivery } from './webhook-payload.js';

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
    const v = ok({ event: 'interview.completed', session_id: 's1', invitee_email: 'a@b.co', total_minutes: 12.5, timestamp: '2026-01-15T10:30:00Z' });
    expect(v.idempotencyKey).toBe('interview.completed:s1');
  });

  it('normalises the { type, data } envelope to the first scheme', () => {
    const v = ok({ type: 'session.feedback_submitted', data: { session_id: 's2', feedback: { rating: 4 } } });
    expect(v.payload).toEqual({ event: 'session.feedback_submitted', session_id: 's2', feedback: { rating: 4 } });
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
    [{ event: 'interview.completed', session_id: 's', transcript_url: 'ftp://x/y' }, /transcript_url/],
    [{ event: 'interview.completed', session_id: 's', feedback: [1] }, /feedback/],
    [{ type: 'x', data: 'nope' }, /data/],
    [[1, 2], /JSON object/],
    [null, /JSON object/],
    [{ event: 'a', session_id: 'nul\u0000' }, /NUL/],
    [{ event: 'a', session_id: 'lone \ud800' }, /surrogate/],
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
  it('reports invalid UTF-8 and invalid JSON', () => {
    expect(parseDelivery(Buffer.from([0x7b, 0xff, 0x7d]))).toMatchObject({ ok: false, message: expect.stringMatching(/JSON/) });
    expect(parseDelivery(Buffer.from('{"event":'))).toMatchObject({ ok: false, message: expect.stringMatching(/JSON/) });
  });
});

describe('eventLabel', () => {
  it('folds unknown event types so metric labels stay few', () => {
    expect(eventLabel('interview.completed')).toBe('interview.completed');
    expect(eventLabel('something.new')).toBe('other');
    expect(eventLabel(undefined)).toBe('unknown');
  });
});
