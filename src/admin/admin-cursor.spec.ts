import { decodeCursor, encodeCursor } from './admin-cursor.js';

describe('admin list cursor', () => {
  it('round-trips and refuses anything it did not make', () => {
    const c = { receivedAt: '2026-11-27T12:00:00.123456Z', id: '0b0e8a4e-9c1d-4b7e-8a53-4c1f7a0d2e11' };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    expect(decodeCursor('nope')).toBeUndefined();
    expect(decodeCursor(Buffer.from('["2026-11-27", "x"]').toString('base64url'))).toBeUndefined();
    expect(decodeCursor(Buffer.from(`["${c.receivedAt}'; DROP TABLE x", "${c.id}"]`).toString('base64url'))).toBeUndefined();
  });
});
