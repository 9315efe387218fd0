import { randomUUID } from 'node:crypto';
import { BATCH_JOB_MAX_EVENTS, EventJob } from '../queue/queue.constants.js';
import {
  ATTR,
  contextOf,
  linkTo,
  markFailed,
  SPAN,
  SpanKind,
  startSpan,
  traceparentInTrace,
  traceparentOf,
  tracingOn,
} from '../tracing/spans.js';

/**
 * Which queue job carries an inbox row, in one place. At any time one job carries a row, and only
 * that job may claim it (InboxProcessingRepository.claim):
 * - a batch job, `batch-<uuid>`, recorded on each of its rows (`batch_job_id`): the first attempts
 *   of the new rows of one ingest INSERT;
 * - the row's own job under its row id: a lone delivery's, or the one an event gets when it leaves
 *   its batch (a retry, a deferral, a dead letter's stand-in);
 * - after a reopen (a replay, the sweeper), `${id}-r<reopen time in µs>`, recorded in `job_id`:
 *   the finished job under the old id may still sit in the queue, and an add under an existing id
 *   is a no-op. Racing reopens compute the same id, so their enqueues collapse into one job.
 * While `job_id` is NULL the row is in its batch job or its own job, one after the other.
 */

/** SQL, in a statement that reopens a row (sets `updated_at = now()`): the row's new job id. */
export const REOPEN_JOB_ID_SQL = `id::text || '-r' || (extract(epoch FROM now()) * 1000000)::bigint`;

/**
 * SQL: the job id a row was reopened under, as a column `job_id`. A 'received' row reopened by the
 * previous release has no `job_id`; its job id follows from its `updated_at` as it did then (a
 * reopen set both from one now()), so rows reopened during a rolling upgrade keep one job.
 */
export const JOB_ID_SQL = `coalesce(job_id, CASE WHEN status = 'received' AND updated_at <> received_at
  THEN id::text || '-r' || (extract(epoch FROM updated_at) * 1000000)::bigint END) AS job_id`;

/** A row that is (or goes back) through processing, with what it takes to enqueue it. */
export interface QueuedRow {
  id: string;
  event: string;
  requestId?: string;
  /** The job it was reopened under; undefined while it travels in its batch job or its own (id = row id). */
  jobId?: string;
  /** The batch job that carried the row's first attempt, if any. */
  batchJobId?: string;
  /** The trace of the delivery that recorded the row (the `trace_id` column), if tracing sampled it. */
  traceId?: string;
  /** The traceparent its job carries (set by whoever enqueues it with tracing on). */
  traceparent?: string;
}

/** The id of the row's own job: the one it was reopened under, else its row id. */
export function jobIdOf(row: Pick<QueuedRow, 'id' | 'jobId'>): string {
  return row.jobId ?? row.id;
}

/** Every job that may be carrying the row now: if one of them will still run, the row is in a job's hands. */
export function carriersOf(row: QueuedRow): string[] {
  return !row.jobId && row.batchJobId ? [row.id, row.batchJobId] : [jobIdOf(row)];
}

/** The job of a row's own, under its current job id. */
export function ownJobOf(row: QueuedRow): EventJob {
  const data: EventJob['data'] = { eventId: row.id, event: row.event, requestId: row.requestId };
  if (row.traceparent) data.traceparent = row.traceparent;
  return { jobId: jobIdOf(row), data };
}

/**
 * Jobs for rows going back through processing (a replay, the sweeper): with tracing on, one
 * `queue.enqueue` span per row in the trace of the delivery that recorded it (its `trace_id`), linked
 * to the operation doing it (the admin request, the sweeper pass); its job carries that span's
 * traceparent. `done` ends the spans, failed if the enqueue failed.
 */
export function requeueJobsOf(rows: QueuedRow[], reason: 'replay' | 'sweep'): { jobs: EventJob[]; done: (err?: unknown) => void } {
  if (!tracingOn()) return { jobs: rows.map(ownJobOf), done: () => undefined };
  const by = traceparentOf();
  const spans = rows.map((row) =>
    startSpan(
      SPAN.enqueue,
      { [ATTR.eventId]: row.id, [ATTR.eventType]: row.event, [ATTR.jobId]: jobIdOf(row), [ATTR.reason]: reason },
      { parent: contextOf(traceparentInTrace(row.traceId, row.id) ?? by), links: by ? [linkTo(by)!] : [], kind: SpanKind.PRODUCER },
    ),
  );
  const jobs = rows.map((row, i) => ownJobOf({ ...row, traceparent: traceparentOf(spans[i]) }));
  return {
    jobs,
    done: (err?: unknown) => {
      for (const span of spans) {
        if (err) markFailed(span, err);
        span?.end();
      }
    },
  };
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
  job_id: string | null;
  batch_job_id?: string | null;
  trace_id?: string | null;
}

export function toQueuedRow(r: QueuedRowRaw): QueuedRow {
  return {
    id: r.id,
    event: r.event,
    requestId: r.request_id ?? undefined,
    jobId: r.job_id ?? undefined,
    batchJobId: r.batch_job_id ?? undefined,
    traceId: r.trace_id ?? undefined,
  };
}
