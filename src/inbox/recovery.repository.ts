import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { JOB_SUFFIX_SQL, QueuedRow, QueuedRowRaw, toQueuedRow } from './job-ids.js';
import { IS_OPEN_SQL, WebhookEventStatus } from './webhook-event.entity.js';

/**
 * The SET list of a recovery: back to (or kept in) 'received' under a fresh job id, or, once the row
 * was put back `max` times already, 'failed' with a reason that says so and keeps the last error.
 */
const RECOVER = (max: string) => `
  status = CASE WHEN recoveries >= ${max} THEN 'failed' ELSE 'received' END,
  last_error = CASE WHEN recoveries >= ${max}
    THEN left('gave up: put back through processing ' || recoveries || ' times without an outcome; last error: ' || coalesce(last_error, 'none'), 2000)
    ELSE last_error END,
  recoveries = recoveries + 1,
  updated_at = now()`;

/** The reset of a replay: attempts, errors and recoveries start afresh. */
const REPLAY = `status = 'received', last_error = NULL, processed_at = NULL, attempts = 0, recoveries = 0, updated_at = now()`;

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

  /** Rows left in 'received' for longer than `olderThanMs` (a crash between commit and enqueue, a lost job). */
  async findStaleReceived(olderThanMs: number, limit: number): Promise<QueuedRow[]> {
    const rows: QueuedRowRaw[] = await this.dataSource.query(
      `SELECT id, event, request_id, batch_job_id, ${JOB_SUFFIX_SQL}
       FROM webhook_events WHERE ${IS_OPEN_SQL}
         AND status = 'received' AND updated_at < now() - make_interval(secs => $1)
       ORDER BY received_at ASC LIMIT $2`,
      [olderThanMs / 1000, limit],
    );
    return rows.map(toQueuedRow);
  }

  /**
   * Puts stale 'received' rows back through processing under a fresh job id (by touching
   * updated_at), or ends them 'failed' once they have been put back `maxRecoveries` times.
   * Rows that moved on meanwhile, or that another sweeper touched first, are left out.
   */
  async requeueStaleReceived(ids: string[], olderThanMs: number, maxRecoveries: number): Promise<Recovered> {
    if (ids.length === 0) return { requeued: [], gaveUp: [] };
    const [rows]: [RecoveredRaw[], number] = await this.dataSource.query(
      `UPDATE webhook_events SET ${RECOVER('$3')}
       WHERE id = ANY($1::uuid[]) AND status = 'received' AND updated_at < now() - make_interval(secs => $2)
       RETURNING id, event, request_id, status, ${JOB_SUFFIX_SQL}`,
      [ids, olderThanMs / 1000, maxRecoveries],
    );
    return splitRecovered(rows);
  }

  /**
   * Rows in 'processing' with no activity for `olderThanMs`: their job died without recording an
   * outcome (retries spent while PostgreSQL was down, a job stalled too often). Puts them back to
   * 'received' for enqueueing, or ends them 'failed' once they have been put back `maxRecoveries` times.
   */
  async reopenStuckProcessing(olderThanMs: number, limit: number, maxRecoveries: number): Promise<Recovered> {
    const [rows]: [RecoveredRaw[], number] = await this.dataSource.query(
      // A CTE, not \`id IN (SELECT … LIMIT)\`: the planner may run such a subquery more than once,
      // and with SKIP LOCKED each run can pick other rows, overshooting the limit.
      `WITH picked AS (
         SELECT id FROM webhook_events WHERE ${IS_OPEN_SQL}
           AND status = 'processing' AND updated_at < now() - make_interval(secs => $1)
         ORDER BY updated_at ASC LIMIT $2 FOR UPDATE SKIP LOCKED)
       UPDATE webhook_events e SET ${RECOVER('$3')}
       FROM picked WHERE e.id = picked.id
       RETURNING e.id, e.event, e.request_id, e.status, ${JOB_SUFFIX_SQL}`,
      [olderThanMs / 1000, limit, maxRecoveries],
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
       RETURNING id, event, request_id, ${JOB_SUFFIX_SQL}`,
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
    // Failed rows are open: found through webhook_events_open; ignored ones by age.
    const open = status === 'failed' ? `${IS_OPEN_SQL} AND` : '';
    const [rows]: [QueuedRowRaw[], number] = await this.dataSource.query(
      `WITH picked AS (
         SELECT id FROM webhook_events WHERE ${open} status = $1 AND ($3::text IS NULL OR event = $3)
         ORDER BY received_at ASC LIMIT $2 FOR UPDATE SKIP LOCKED)
       UPDATE webhook_events e SET ${REPLAY}
       FROM picked WHERE e.id = picked.id
       RETURNING e.id, e.event, e.request_id, ${JOB_SUFFIX_SQL}`,
      [status, limit, event ?? null],
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
