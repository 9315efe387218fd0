import secureJsonParse from 'secure-json-parse';
import { z } from 'zod';
import { decodeCursor } from '../admin/admin-cursor.js';
import { filterText } from '../admin/admin-params.js';
import { isStorableTimestamp, unstorableJsonReason } from '../common/storable.js';
import { InboxFilter, InboxKey } from '../inbox/event-filter.js';
import { WEBHOOK_EVENT_STATUSES } from '../inbox/webhook-event.entity.js';

export const PAGE_SIZES = [25, 50, 100, 200] as const;

// A browser's datetime-local input sends no seconds and no zone: such a time is read as UTC, the zone
// every page shows times in.
const time = z.iso
  .datetime({ offset: true, local: true })
  .transform((s) => (/(?:Z|[+-]\d{2}:?\d{2})$/i.test(s) ? s : `${s}Z`))
  .refine(isStorableTimestamp, 'must have a year from 0001 to 9999');

const attempts = z.coerce.number().int().min(0).max(1_000_000);

/** The payload filter: JSON text of an object or an array that PostgreSQL can store (`payload @> …`). */
const payloadFilter = z
  .string()
  .max(2000)
  .transform((text, ctx) => {
    let value: unknown;
    try {
      value = secureJsonParse.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON, like {"invitee_email": "ada@example.com"}' });
      return z.NEVER;
    }
    if (typeof value !== 'object' || value === null) {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object (or array) the payload contains' });
      return z.NEVER;
    }
    const reason = unstorableJsonReason(value, 32);
    if (reason) {
      ctx.addIssue({ code: 'custom', message: reason });
      return z.NEVER;
    }
    return JSON.stringify(value);
  });

/**
 * The events listing's query string: every filter, the order, the page size and the cursor. A shared
 * link opens the same view. Empty values (a form's untouched fields) count as absent.
 */
export const listQuery = z.object({
  status: z.enum(WEBHOOK_EVENT_STATUSES).optional(),
  event: filterText(200).optional(),
  session_id: filterText(256).optional(),
  from: time.optional(),
  to: time.optional(),
  attempts_min: attempts.optional(),
  attempts_max: attempts.optional(),
  payload: payloadFilter.optional(),
  order: z.enum(['newest', 'oldest']).default('newest'),
  limit: z.coerce
    .number()
    .int()
    .refine((n) => (PAGE_SIZES as readonly number[]).includes(n), `must be one of ${PAGE_SIZES.join(', ')}`)
    .default(50),
  cursor: z.string().max(500).optional(),
});
export type ListQuery = z.output<typeof listQuery>;

/** The filter fields of the query, in the order the form shows them (for links that keep the filter). */
export const FILTER_FIELDS = ['status', 'event', 'session_id', 'from', 'to', 'attempts_min', 'attempts_max', 'payload'] as const;

export type RawQuery = Record<string, string>;

/** The query string as Fastify parsed it, without empty values; repeated keys keep their last value. */
export function rawQuery(query: unknown): RawQuery {
  const raw: RawQuery = {};
  for (const [key, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    const last: unknown = Array.isArray(value) ? (value as unknown[])[value.length - 1] : value;
    if (typeof last === 'string' && last.trim() !== '') raw[key] = last.trim();
  }
  return raw;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: Record<string, string> };

/** Parses the query; a wrong field comes back by name, for the form to show beside it. */
export function parseListQuery(raw: RawQuery): Parsed<ListQuery & { after?: InboxKey }> {
  const result = listQuery.safeParse(raw);
  if (!result.success) {
    const errors: Record<string, string> = {};
    for (const issue of result.error.issues) errors[String(issue.path[0] ?? 'query')] ??= issue.message;
    return { ok: false, errors };
  }
  const q = result.data;
  const errors: Record<string, string> = {};
  if (q.attempts_min !== undefined && q.attempts_max !== undefined && q.attempts_min > q.attempts_max)
    errors.attempts_max = 'must not be less than the minimum';
  if (q.from !== undefined && q.to !== undefined && Date.parse(q.from) >= Date.parse(q.to)) errors.to = 'must be after the start';
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  if (q.cursor !== undefined && !after) errors.cursor = 'is not a position in this list: start from the first page';
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, value: { ...q, after } };
}

export function inboxFilter(q: ListQuery): InboxFilter {
  return {
    status: q.status,
    event: q.event,
    sessionId: q.session_id,
    from: q.from,
    to: q.to,
    attemptsMin: q.attempts_min,
    attemptsMax: q.attempts_max,
    payload: q.payload,
  };
}

/** A URL under `path` with these parameters (empty ones left out), for links and redirects. */
export function urlWith(path: string, params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

/** The raw filter fields of a query (as the operator typed them), for links that keep the filter. */
export function filterParams(raw: RawQuery): Record<string, string> {
  return Object.fromEntries(FILTER_FIELDS.filter((f) => raw[f] !== undefined).map((f) => [f, raw[f]]));
}
