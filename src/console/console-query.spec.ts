import { inboxFilter, parseListQuery, rawQuery, urlWith } from './console-query.js';

describe('the events listing query', () => {
  it('leaves out empty values, and keeps the last of a repeated key', () => {
    expect(rawQuery({ status: '', event: ' interview.completed ', session_id: ['a', 'b'], x: 1 })).toEqual({
      event: 'interview.completed',
      session_id: 'b',
    });
  });

  it('reads every filter, a time without a zone as UTC, the payload as canonical JSON', () => {
    const parsed = parseListQuery({
      status: 'failed',
      event: 'interview.completed',
      session_id: 'sess 1',
      from: '2026-12-01T10:00',
      to: '2026-12-02T10:00:00+01:00',
      attempts_min: '2',
      attempts_max: '3',
      payload: '{ "invitee_email" : "ada@example.com" }',
      order: 'oldest',
      limit: '25',
    });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(inboxFilter(parsed.value)).toEqual({
      status: 'failed',
      event: 'interview.completed',
      sessionId: 'sess 1',
      from: '2026-12-01T10:00Z',
      to: '2026-12-02T10:00:00+01:00',
      attemptsMin: 2,
      attemptsMax: 3,
      payload: '{"invitee_email":"ada@example.com"}',
    });
    expect(parsed.value).toMatchObject({ order: 'oldest', limit: 25 });
  });

  it('names each field it cannot use (a 400 that the form shows beside the field)', () => {
    const parsed = parseListQuery({
      status: 'lost',
      attempts_min: '-1',
      payload: '{"a":',
      from: 'yesterday',
      limit: '7',
      session_id: 'a\u0000b',
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(Object.keys(parsed.errors).sort()).toEqual(['attempts_min', 'from', 'limit', 'payload', 'session_id', 'status']);
    expect(parsed.errors.payload).toMatch(/must be JSON/);
  });

  it('refuses a payload filter that is not an object, poisons prototypes, or holds what PostgreSQL cannot store', () => {
    for (const payload of ['"text"', '42', 'null', '{"__proto__":{"x":1}}', '{"a":"\\u0000"}', `{"a":"${'x'.repeat(2001)}"}`]) {
      expect(parseListQuery({ payload }).ok).toBe(false);
    }
    expect(parseListQuery({ payload: '[{"a":1}]' }).ok).toBe(true);
  });

  it('refuses a range that ends before it starts, and a cursor it did not make', () => {
    const parsed = parseListQuery({
      from: '2026-12-02T00:00',
      to: '2026-12-01T00:00',
      attempts_min: '3',
      attempts_max: '1',
      cursor: 'forged',
    });
    expect(parsed).toEqual({ ok: false, errors: { to: expect.any(String), attempts_max: expect.any(String), cursor: expect.any(String) } });
  });

  it('builds links without empty parameters', () => {
    expect(urlWith('/admin/console/events', { status: 'failed', event: undefined, session_id: '', limit: 50 })).toBe(
      '/admin/console/events?status=failed&limit=50',
    );
    expect(urlWith('/admin/console/events', {})).toBe('/admin/console/events');
  });
});
