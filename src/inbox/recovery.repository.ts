import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { filterSql, InboxFilter } from './event-filter.js';
import { JOB_ID_SQL, QueuedRow, QueuedRowRaw, REOPEN_JOB_ID_SQL, toQueuedRow } from './job-ids.js';
import { DEAD_LETTER_SQL, UNFINISHED_SQL, WebhookEventStatus } from './webhook-event.entity.js';

/**
 * The SET list of a recovery: back to (or kept in) 'received' under a fresh job id, or, once the row
 * was put back `max` times already, 'failed' with a reason that says so and keeps the last error.
 */
const RECOVER = (max: string) => `
  status = CASE WHEN recoveries >= ${max} THEN 'failed' ELSE 'received' END,
  last_error = CASE WHEN recoveries >= ${max}
    THEN left('gave up: put back through processing ' || recoveries || ' times without an outcome; last error: ' || coalesce(last_error, 'none'), 2000)
    ELSE last_error END,
  job_id = CASE WHEN recoveries >= ${max} THEN job_id ELSE ${REOPEN_JOB_ID_SQL} END,
  recoveries = recoveries + 1,
  updated_at = now()`;

/** The reset of a replay: attempts, errors and recoveries start afresh, under a fresh job id. */
const REPLAY = `status = 'received', last_error = NULL, processed_at = NULL, attempts = 0, recoveries = 0,
  job_id = ${REOPEN_JOB_ID_SQL}, updated_at = now()`;

/** Where a pass of the sweeper goes on from: rows are visited in (updated_at, id) order. */
export interface StaleCursor {
  /** updated_at to the microsecond, ISO 8601 in UTC. */
  updatedAt: string;
  id: string;
}

/** A row the sweeper looks at: in 'received' or 'processing', idle for longer than it should be. */
export interface StaleRow extends QueuedRow {
  cursor: StaleCursor;
}

/**
 * The sweeper's candidates: unfinished rows (never a dead letter: UNFINISHED_SQL) in one state,
 * idle since before `$2` seconds ago, after the cursor `($3, $4)`, oldest first. Exported for the
 * query-plans test.
 */
export const STALE_ROWS_SQL = `
  SELECT id, event, request_id, batch_job_id, ${JOB_ID_SQL},
         to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_key
  FROM webhook_events
  WHERE ${UNFINISHED_SQL} AND status = $1 AND updated_at < now() - make_interval(secs => $2)
    AND (updated_at, id) > ($3::timestamptz, $4::uuid)
  ORDER BY updated_at, id LIMIT $5`;

/** Before any row: a cursor that starts a pass from the oldest. */
const FIRST: StaleCursor = { updatedAt: '-infinity', id: '00000000-0000-0000-0000-000000000000' };

export interface Recovered {
  requeued: QueuedRow[];
  /** Rows ended 'failed' because they were put back too often. */
  gaveUp: Array<{ id: string; event: string }>;
}

type RecoveredRaw = QueuedRowRaw & { status: WebhookEventStatus };

function splitRecovered(rows: RecoveredRaw[]): Recovered {
  return {
    requeued: rows.filter((r) => r.status === 'received').map(toQueuedRow),
    gaveUp: rows.filter((r) => r.status === 'failed').map((r) => ({ id: r.id, event: r.event })),
  };
}

/**
 * Rows going back through processing: the stale-row sweeper's finds, replays from the dead-letter
 * desk, and retention. Conditional updates keep two sweepers (or a sweeper and a replay) from taking
 * the same row twice; each returns the rows with the job id they are to be enqueued under now.
 */
@Injectable()
export class InboxRecoveryRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Up to `limit` rows in `status` ('received': a crash between commit and enqueue, a lost job;
   * 'processing': a job that died without recording an outcome) idle for longer than `olderThanMs`,
   * oldest first, after `after` (the last row of the previous page; undefined: from the oldest). The
   * caller asks the queue whether the job carrying each one is still alive.
   */
  async findStale(status: 'received' | 'processing', olderThanMs: number, limit: number, after?: StaleCursor): Promise<StaleRow[]> {
    const from = after ?? FIRST;
    const rows: Array<QueuedRowRaw & { updated_key: string }> = await this.dataSource.query(STALE_ROWS_SQL, [
      status,
      olderThanMs / 1000,
      from.updatedAt,
      from.id,
      limit,
    ]);
    return rows.map((r) => ({ ...toQueuedRow(r), cursor: { updatedAt: r.updated_key, id: r.id } }));
  }

  /**
   * Puts rows that are still in `status` and idle for longer than `olderThanMs` back through
   * processing under a fresh job id, or ends them 'failed' once they have been put back
   * `maxRecoveries` times. Rows that moved on meanwhile (a claim, an outcome), or that another sweeper
   * took first, are left out.
   */
  async reopenStale(ids: string[], status: 'received' | 'processing', olderThanMs: number, maxRecoveries: number): Promise<Recovered> {
    if (ids.length === 0) return { requeued: [], gaveUp: [] };
    const [rows]: [RecoveredRaw[], number] = await this.dataSource.query(
      `UPDATE webhook_events SET ${RECOVER('$4')}
       WHERE id = ANY($1::uuid[]) AND status = $2 AND updated_at < now() - make_interval(secs => $3)
       RETURNING id, event, request_id, status, job_id, trace_id`,
      [ids, status, olderThanMs / 1000, maxRecoveries],
    );
    return splitRecovered(rows);
  }

  /**
   * A replay: puts a failed or ignored row back to 'received' (attempts, last_error and recoveries
   * reset). Says why not otherwise (null: no such row).
   */
  async reopen(id: string): Promise<{ reopened: QueuedRow } | { status: WebhookEventStatus } | null> {
    const [rows]: [QueuedRowRaw[], number] = await this.dataSource.query(
      `UPDATE webhook_events SET ${REPLAY} WHERE id = $1 AND status IN ('failed', 'ignored')
       RETURNING id, event, request_id, job_id, trace_id`,
      [id],
    );
    if (rows.length > 0) return { reopened: toQueuedRow(rows[0]) };
    const current: Array<{ status: WebhookEventStatus }> = await this.dataSource.query(`SELECT status FROM webhook_events WHERE id = $1`, [
      id,
    ]);
    return current.length > 0 ? { status: current[0].status } : null;
  }

  /** Bulk replay, oldest first, at most `limit` rows. */
  async reopenMany(status: 'failed' | 'ignored', limit: number, event?: string): Promise<QueuedRow[]> {
    // Failed rows are found through webhook_events_open; ignored ones by age.
    const open = status === 'failed' ? `${DEAD_LETTER_SQL} AND` : '';
    const [rows]: [QueuedRowRaw[], number] = await this.dataSource.query(
      `WITH picked AS (
         SELECT id FROM webhook_events WHERE ${open} status = $1 AND ($3::text IS NULL OR event = $3)
         ORDER BY received_at ASC LIMIT $2 FOR UPDATE SKIP LOCKED)
       UPDATE webhook_events SET ${REPLAY}
       WHERE id IN (SELECT id FROM picked)
       RETURNING id, event, request_id, job_id, trace_id`,
      [status, limit, event ?? null],
    );
    return rows.map(toQueuedRow);
  }

  /**
   * Bulk replay of the dead letters that match a filter (its status aside: always 'failed'), oldest
   * first, at most `limit`; read through the open table's dead letters, never the whole inbox.
   */
  async reopenDeadLetters(filter: InboxFilter, limit: number): Promise<QueuedRow[]> {
    const sql = filterSql({ ...filter, status: 'failed' });
    const [rows]: [QueuedRowRaw[], number] = await this.dataSource.query(
      `WITH picked AS (
         SELECT e.id FROM ${sql.from} WHERE ${[...sql.indexed, ...sql.checked].join(' AND ')}
         ORDER BY k.received_at, k.id LIMIT $${sql.params.length + 1} FOR UPDATE OF e SKIP LOCKED)
       UPDATE webhook_events SET ${REPLAY}
       WHERE id IN (SELECT id FROM picked) AND status = 'failed'
       RETURNING id, event, request_id, job_id, trace_id`,
      [...sql.params, limit],
    );
    return rows.map(toQueuedRow);
  }

  /**
   * Retention: deletes up to `limit` rows that finished ('processed' or 'ignored') and were received
   * more than `days` days ago, oldest first; returns how many. 'failed' rows stay for the dead-letter desk.
   */
  async pruneFinished(days: number, limit: number): Promise<number> {
    const [, deleted]: [unknown[], number] = await this.dataSource.query(
      `WITH picked AS (
         SELECT id FROM webhook_events
         WHERE status IN ('processed', 'ignored') AND received_at < now() - make_interval(days => $1)
         ORDER BY received_at ASC LIMIT $2 FOR UPDATE SKIP LOCKED)
       DELETE FROM webhook_events e USING picked WHERE e.id = picked.id`,
      [days, limit],
    );
    return deleted;
  }
}
