import { z } from 'zod';
import { isStorableTimestamp } from '../common/storable.js';

/** Opaque keyset cursor for GET /admin/events: the last row's received_at (µs, UTC) and id. */
export interface EventCursor {
  receivedAt: string;
  id: string;
}

// What the listing writes (to_char with microseconds, UTC), calendar-checked: a forged cursor
// must be a 400, not a value PostgreSQL refuses.
const TIMESTAMP = z.iso.datetime({ precision: 6 }).refine(isStorableTimestamp);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(c: EventCursor): string {
  return Buffer.from(JSON.stringify([c.receivedAt, c.id]), 'utf8').toString('base64url');
}

/** Undefined when the string is not a cursor this service made. */
export function decodeCursor(s: string): EventCursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [receivedAt, id] = value as unknown[];
    if (!TIMESTAMP.safeParse(receivedAt).success) return undefined;
    if (typeof id !== 'string' || !UUID.test(id)) return undefined;
    return { receivedAt: receivedAt as string, id };
  } catch {
    return undefined;
  }
}
