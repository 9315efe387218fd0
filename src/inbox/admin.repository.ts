import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { DEAD_LETTER_SQL, SignatureScheme, UNFINISHED_SQL, WEBHOOK_EVENT_STATUSES, WebhookEventStatus } from './webhook-event.entity.js';

export interface EventListFilter {
  status?: WebhookEventStatus;
  event?: string;
  sessionId?: string;
  limit: number;
  /** The `key` of the last row of the previous page. */
  after?: { receivedAt: string; id: string };
}

/** One inbox row as the admin API lists it (dates leave as ISO 8601 strings). */
export const eventSummary = z
  .object({
    id: z.uuid(),
    event: z.string(),
    session_id: z.string(),
    status: z.enum(WEBHOOK_EVENT_STATUSES),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    request_id: z.string().nullable(),
    received_at: z.date(),
    processed_at: z.date().nullable(),
    updated_at: z.date(),
  })
  .meta({ id: 'EventSummary' });
export type EventSummary = z.infer<typeof eventSummary>;

/** The listing's fields plus what only the detail view shows. */
export const eventDetail = eventSummary
  .extend({
    idempotency_key: z.string(),
    signature_scheme: z.enum(['signature', 'timestamped'] satisfies SignatureScheme[]),
    payload: z.record(z.string(), z.unknown()),
    trace_id: z
      .string()
      .nullable()
      .describe('The delivery\'s trace (docs/operations.md, "Tracing"); null when tracing was off or did not sample it'),
  })
  .meta({ id: 'EventDetail' });
export type EventDetail = z.infer<typeof eventDetail>;

/** Rows in these states are found through webhook_events_open (status itself is not indexed). */
const OPEN_STATUS_SQL: Partial<Record<WebhookEventStatus, string>> = {
  received: UNFINISHED_SQL,
  processing: UNFINISHED_SQL,
  failed: DEAD_LETTER_SQL,
};

const SUMMARY_COLUMNS = 'id, event, session_id, status, attempts, last_error, request_id, received_at, processed_at, updated_at';

/** The inbox as the dead-letter desk reads it (writes go through InboxRecoveryRepository). */
@Injectable()
export class InboxAdminRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Newest first, keyset-paginated on (received_at, id): stable while new events arrive. Each row
   * comes with its `key` (received_at with microseconds, and id) for the next page's cursor.
   */
  async list(filter: EventListFilter): Promise<Array<EventSummary & { key: { receivedAt: string; id: string } }>> {
    const params: unknown[] = [];
    const where: string[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.status) add('status = ?', filter.status);
    if (filter.event) add('event = ?', filter.event);
    if (filter.sessionId) add('session_id = ?', filter.sessionId);
    if (filter.after) {
      params.push(filter.after.receivedAt, filter.after.id);
      where.push(`(received_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    }
    params.push(filter.limit);
    const open = filter.status && OPEN_STATUS_SQL[filter.status];
    if (open) where.push(open);
    const rows: Array<EventSummary & { received_key: string }> = await this.dataSource.query(
      `SELECT ${SUMMARY_COLUMNS}, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_key
       FROM webhook_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY received_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(({ received_key, ...summary }) => ({ ...summary, key: { receivedAt: received_key, id: summary.id } }));
  }

  async findById(id: string): Promise<EventDetail | null> {
    const rows: EventDetail[] = await this.dataSource.query(
      `SELECT ${SUMMARY_COLUMNS}, idempotency_key, signature_scheme, payload, trace_id FROM webhook_events WHERE id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }
}
