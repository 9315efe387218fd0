/** Opaque keyset cursor for GET /admin/events: the last row's received_at (µs, UTC) and id. */
export interface EventCursor {
  receivedAt: string;
  id: string;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
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
    if (typeof receivedAt !== 'string' || !TIMESTAMP.test(receivedAt)) return undefined;
    if (typeof id !== 'string' || !UUID.test(id)) return undefined;
    return { receivedAt, id };
  } catch {
    return undefined;
  }
}
