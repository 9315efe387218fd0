import { randomUUID } from 'node:crypto';
import { BATCH_JOB_MAX_EVENTS, EventJob } from '../queue/queue.constants.js';

/**
 * Which queue job carries an inbox row, in one place:
 * - a row's own job: its id, while the row was never reopened (updated_at still equals
 *   received_at); `${id}-r<updated_at in µs>` after a reopen (replay, sweeper), because the finished
 *   job under the old id may still sit in the queue and an add under an existing id is a no-op.
 *   Replays and sweepers compute the same id for the same reopen, so racing enqueues collapse;
 * - a batch job, `batch-<uuid>`, recorded on each of its rows (`batch_job_id`): the first attempts
 *   of the new rows of one ingest INSERT. A batch only ever carries never-reopened rows, so an event
 *   that leaves its batch gets its own job under its row id.
 */
export const JOB_SUFFIX_SQL = `CASE WHEN updated_at = received_at THEN NULL ELSE 'r' || (extract(epoch FROM updated_at) * 1000000)::bigint END AS job_suffix`;

/** A row that is (or goes back) through processing, with what it takes to enqueue it. */
export interface QueuedRow {
  id: string;
  event: string;
  requestId?: string;
  /** Undefined while the row keeps its original job id; else the suffix of its fresh one. */
  jobSuffix?: string;
  /** The batch job that carried the row's first attempt, if any. */
  batchJobId?: string;
}

export function jobIdOf(row: Pick<QueuedRow, 'id' | 'jobSuffix'>): string {
  return row.jobSuffix ? `${row.id}-${row.jobSuffix}` : row.id;
}

/** The job of a row's own, under its current job id. */
export function ownJobOf(row: QueuedRow): EventJob {
  return { jobId: jobIdOf(row), data: { eventId: row.id, event: row.event, requestId: row.requestId } };
}

/** One batch job id per BATCH_JOB_MAX_EVENTS consecutive rows: the batch job each of them will travel in. */
export function batchJobIdsFor(count: number): string[] {
  const ids: string[] = [];
  let current = '';
  for (let i = 0; i < count; i++) {
    if (i % BATCH_JOB_MAX_EVENTS === 0) current = `batch-${randomUUID()}`;
    ids.push(current);
  }
  return ids;
}

export interface QueuedRowRaw {
  id: string;
  event: string;
  request_id: string | null;
  job_suffix: string | null;
  batch_job_id?: string | null;
}

export function toQueuedRow(r: QueuedRowRaw): QueuedRow {
  return {
    id: r.id,
    event: r.event,
    requestId: r.request_id ?? undefined,
    jobSuffix: r.job_suffix ?? undefined,
    batchJobId: r.batch_job_id ?? undefined,
  };
}
