import { errorText, isStorableTimestamp, storableText, unstorableJsonReason } from './storable.js';

describe('storableText', () => {
  it('replaces NUL and lone surrogates and keeps everything else', () => {
    expect(storableText('a\u0000b\ud800c 😀')).toBe('a\ufffdb\ufffdc 😀');
  });

  it('caps the length without splitting a surrogate pair', () => {
    expect(storableText('x'.repeat(10), 5)).toBe('xxxx…');
    const cut = storableText('abc😀😀', 5);
    expect(cut.isWellFormed()).toBe(true);
    expect(cut).toBe('abc…');
  });

  it('gives the message of anything thrown', () => {
    expect(errorText(new Error('bad \u0000 byte'))).toBe('bad \ufffd byte');
    expect(errorText('plain')).toBe('plain');
  });
});

describe('unstorableJsonReason', () => {
  it.each([
    [{ a: 'x\u0000' }, /NUL/],
    [{ ['k\u0000']: 1 }, /NUL/],
    [['\udc00'], /surrogate/],
    [{ n: JSON.parse('1e400') as number }, /range/],
    [JSON.parse('['.repeat(70) + ']'.repeat(70)) as unknown, /nested deeper than 64/],
  ])('names what jsonb cannot hold in %j', (value, reason) => {
    expect(unstorableJsonReason(value, 64)).toMatch(reason);
  });

  it('accepts what jsonb stores unchanged', () => {
    expect(unstorableJsonReason({ a: ['ok', 1.5, null, true, { b: '😀 ‮ é' }] }, 64)).toBeUndefined();
  });
});

describe('isStorableTimestamp', () => {
  it('takes years 0001-9999 and offsets within ±15:59', () => {
    for (const ok of ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999999Z', '2026-11-27T10:00:00+15:59', '2026-11-27T10:00:00-1559'])
      expect([ok, isStorableTimestamp(ok)]).toEqual([ok, true]);
    for (const bad of ['0000-01-01T00:00:00Z', '2026-11-27T10:00:00+16:00', '2026-11-27T10:00:00-15:60', 'yesterday'])
      expect([bad, isStorableTimestamp(bad)]).toEqual([bad, false]);
  });
});
