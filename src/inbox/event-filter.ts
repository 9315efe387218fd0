import { WebhookEventStatus } from './webhook-event.entity.js';

/** What the events console filters the inbox by; every field optional, all of them ANDed. */
export interface InboxFilter {
  status?: WebhookEventStatus;
  event?: string;
  sessionId?: string;
  /** Received at or after (ISO 8601). */
  from?: string;
  /** Received before (ISO 8601). */
  to?: string;
  attemptsMin?: number;
  attemptsMax?: number;
  /** JSON text the payload must contain (`payload @> …`): an object or an array. */
  payload?: string;
}

/** A keyset position in (received_at, id) order: received_at to the microsecond (ISO 8601, UTC) and id. */
export interface InboxKey {
  receivedAt: string;
  id: string;
}

/**
 * A filter as SQL. The inbox row is `e`; `k` is the relation whose (received_at, id) index gives the
 * order (the inbox itself, or the open table).
 * - `from`: the inbox alone, or the open table's dead letters or rows in flight joined to it
 *   (`webhook_events_open` has a partial index of each on (received_at, id));
 * - `indexed`: conditions an index serves (the time range, the session), part of the scan;
 * - `checked`: conditions checked on each row the scan reads (type, status, attempts, payload).
 */
export interface FilterSql {
  from: string;
  indexed: string[];
  checked: string[];
  params: unknown[];
}

const INBOX = 'webhook_events e';
const DEAD_LETTERS = 'webhook_events_open k JOIN webhook_events e ON e.id = k.id AND k.failed';
const IN_FLIGHT = 'webhook_events_open k JOIN webhook_events e ON e.id = k.id AND NOT k.failed';

/** The relation of `from` whose received_at and id order the rows. */
export function keyAlias(sql: FilterSql): 'e' | 'k' {
  return sql.from === INBOX ? 'e' : 'k';
}

/**
 * The SQL of a filter, its parameters numbered from `$1` (the caller may add more). Rows in 'failed'
 * are read through the open table's dead letters, rows 'received' or 'processing' through its rows in
 * flight (status itself has no index, so that claims and outcomes stay HOT updates), any other through
 * the inbox's (received_at, id) index, or its session_id index.
 */
export function filterSql(filter: InboxFilter): FilterSql {
  const params: unknown[] = [];
  const p = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const status = filter.status;
  const from = status === 'failed' ? DEAD_LETTERS : status === 'received' || status === 'processing' ? IN_FLIGHT : INBOX;
  const k = from === INBOX ? 'e' : 'k';
  const indexed: string[] = [];
  const checked: string[] = [];
  if (filter.sessionId !== undefined) indexed.push(`e.session_id = ${p(filter.sessionId)}`);
  if (filter.from !== undefined) indexed.push(`${k}.received_at >= ${p(filter.from)}::timestamptz`);
  if (filter.to !== undefined) indexed.push(`${k}.received_at < ${p(filter.to)}::timestamptz`);
  if (status !== undefined) checked.push(`e.status = ${p(status)}`);
  if (filter.event !== undefined) checked.push(`e.event = ${p(filter.event)}`);
  if (filter.attemptsMin !== undefined) checked.push(`e.attempts >= ${p(filter.attemptsMin)}::int`);
  if (filter.attemptsMax !== undefined) checked.push(`e.attempts <= ${p(filter.attemptsMax)}::int`);
  if (filter.payload !== undefined) checked.push(`e.payload @> ${p(filter.payload)}::jsonb`);
  return { from, indexed, checked, params };
}
