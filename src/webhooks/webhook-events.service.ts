import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, Repository } from 'typeorm';
import { MicroBatcher } from '../common/micro-batcher.js';
import { storableText } from '../common/storable.js';
import { isDataError } from '../common/pg-errors.js';
import { PreparedStatements } from '../database/prepared-statements.js';
import { NormalisedEvent } from './webhook-payload.js';
import { SignatureScheme, WebhookEvent, WebhookEventStatus } from './webhook-event.entity.js';

/** Worker-side writes: up to a full worker's jobs per statement, two statements in flight. */
const WORKER_BATCHING = { maxBatch: 256, maxConcurrent: 2, isolate: isDataError };

export interface InboxCandidate {
  event: NormalisedEvent;
  scheme: SignatureScheme;
  requestId?: string;
}

export interface InboxRow {
  id: string;
  idempotencyKey: string;
  event: string;
  status: WebhookEventStatus;
  inserted: boolean;
  /** The batch job carrying the row's first attempt; null: the row's own job. */
  batchJobId: string | null;
}

/** The inbox table and every write to it. Nothing outside WebhooksModule touches the repository. */
@Injectable()
export class WebhookEventsService {
  private readonly claims = new MicroBatcher<string, WebhookEvent | null>((ids) => this.claimBatch(ids), WORKER_BATCHING);
  private readonly outcomes = new MicroBatcher<{ id: string; status: 'processed' | 'ignored' }, void>(
    (items) => this.outcomeBatch(items),
    WORKER_BATCHING,
  );

  constructor(
    @InjectRepository(WebhookEvent) private readonly repo: Repository<WebhookEvent>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly statements: PreparedStatements,
  ) {}

  /**
   * Records a batch of deliveries in one statement (one commit), first writer wins per key.
   * Returns one row per candidate, in order: inserted now, or the row that already held the key.
   * Candidates must have distinct keys. `batchJobIds[i]`, when given, is recorded on the row of
   * candidate i as the batch job that will carry it.
   */
  async recordBatch(candidates: InboxCandidate[], batchJobIds: Array<string | null> = []): Promise<InboxRow[]> {
    const rows = candidates.map((c, i) => ({
      id: randomUUID(),
      idempotency_key: c.event.idempotencyKey,
      event: c.event.event,
      session_id: c.event.sessionId,
      payload: c.event.payload,
      signature_scheme: c.scheme,
      request_id: c.requestId ?? null,
      batch_job_id: batchJobIds[i] ?? null,
    }));
    const { rows: inserted } = await this.statements.query<{ id: string; idempotency_key: string; batch_job_id: string | null }>(
      'inbox-insert',
      `INSERT INTO webhook_events (id, idempotency_key, event, session_id, payload, signature_scheme, request_id, batch_job_id)
       SELECT id, idempotency_key, event, session_id, payload, signature_scheme, request_id, batch_job_id
       FROM jsonb_to_recordset($1::jsonb)
         AS x(id uuid, idempotency_key text, event text, session_id text, payload jsonb, signature_scheme text,
              request_id text, batch_job_id text)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id, idempotency_key, batch_job_id`,
      [JSON.stringify(rows)],
    );
    const byKey = new Map<string, Omit<InboxRow, 'event'>>();
    for (const r of inserted) {
      byKey.set(r.idempotency_key, { id: r.id, idempotencyKey: r.idempotency_key, status: 'received', inserted: true, batchJobId: r.batch_job_id });
    }
    const missing = rows.filter((r) => !byKey.has(r.idempotency_key)).map((r) => r.idempotency_key);
    if (missing.length > 0) {
      // A separate statement (fresh snapshot) also sees rows that a concurrent batch committed
      // while our INSERT waited on their keys.
      const { rows: existing } = await this.statements.query<{ id: string; idempotency_key: string; status: WebhookEventStatus; batch_job_id: string | null }>(
        'inbox-existing',
        `SELECT id, idempotency_key, status, batch_job_id FROM webhook_events WHERE idempotency_key = ANY($1::text[])`,
        [missing],
      );
      for (const r of existing) {
        byKey.set(r.idempotency_key, { id: r.id, idempotencyKey: r.idempotency_key, status: r.status, inserted: false, batchJobId: r.batch_job_id });
      }
    }
    return candidates.map((c) => {
      const row = byKey.get(c.event.idempotencyKey);
      if (!row) throw new Error(`inbox row for ${c.event.idempotencyKey} neither inserted nor found`);
      return { ...row, event: c.event.event };
    });
  }

  findById(id: string): Promise<WebhookEvent | null> {
    return this.repo.findOneBy({ id });
  }

  /**
   * Claims a row for processing; returns null when it is already in a final state.
   * Claims and outcomes of concurrently running jobs share one statement (one commit) per batch.
   */
  markProcessing(id: string): Promise<WebhookEvent | null> {
    return this.claims.submit(id);
  }

  markProcessed(id: string, status: 'processed' | 'ignored' = 'processed'): Promise<void> {
    return this.outcomes.submit({ id, status });
  }

  private async claimBatch(ids: string[]): Promise<Array<WebhookEvent | null>> {
    const { rows } = await this.statements.query(
      'inbox-claim',
      `UPDATE webhook_events SET status = 'processing', attempts = attempts + 1, updated_at = now()
       WHERE id = ANY($1::uuid[]) AND status IN ('received', 'processing') RETURNING *`,
      [[...new Set(ids)]],
    );
    const byId = new Map(rows.map((r) => [r.id as string, r]));
    return ids.map((id) => {
      const row = byId.get(id);
      return row ? this.repo.create(mapRaw(row)) : null;
    });
  }

  private async outcomeBatch(items: Array<{ id: string; status: 'processed' | 'ignored' }>): Promise<void[]> {
    await this.statements.query(
      'inbox-outcome',
      `UPDATE webhook_events AS e SET status = x.status, processed_at = now(), last_error = NULL, updated_at = now()
       FROM unnest($1::uuid[], $2::text[]) AS x(id, status) WHERE e.id = x.id`,
      [items.map((i) => i.id), items.map((i) => i.status)],
    );
    return items.map(() => undefined);
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.repo.update({ id }, { status: 'failed', lastError: storableText(error), updatedAt: () => 'now()' });
  }

  async recordAttemptError(id: string, error: string): Promise<void> {
    await this.repo.update({ id }, { lastError: storableText(error), updatedAt: () => 'now()' });
  }

  // ---------------------------------------------------------------------------------------------
  // Recovery and replay. A row that goes back through processing gets a fresh job id, because the
  // finished job under its old id may still sit in the queue (an add with that id is a no-op).
  // The id is derived from the row: `${id}` while the row was never reopened (updated_at still
  // equals received_at), `${id}-r<updated_at in µs>` after a reopen. Replay and the sweeper compute
  // the same id for the same reopen, so racing enqueues collapse into one job.

  /** Rows left in 'received' for longer than `olderThanMs` (a crash between commit and enqueue, a lost job). */
  async findStaleReceived(olderThanMs: number, limit: number): Promise<RequeueCandidate[]> {
    const rows: RawCandidate[] = await this.dataSource.query(
      `SELECT id, event, request_id, batch_job_id, ${JOB_SUFFIX} FROM webhook_events
       WHERE status = 'received' AND updated_at < now() - make_interval(secs => $1)
       ORDER BY received_at ASC LIMIT $2`,
      [olderThanMs / 1000, limit],
    );
    return rows.map(toCandidate);
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
       RETURNING id, event, request_id, status, ${JOB_SUFFIX}`,
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
         SELECT id FROM webhook_events
         WHERE status = 'processing' AND updated_at < now() - make_interval(secs => $1)
         ORDER BY updated_at ASC LIMIT $2 FOR UPDATE SKIP LOCKED)
       UPDATE webhook_events e SET ${RECOVER('$3')}
       FROM picked WHERE e.id = picked.id
       RETURNING e.id, e.event, e.request_id, e.status, ${JOB_SUFFIX}`,
      [olderThanMs / 1000, limit, maxRecoveries],
    );
    return splitRecovered(rows);
  }

  /**
   * Deletes up to `limit` rows that finished ('processed' or 'ignored') and were received more than
   * `days` days ago, oldest first; returns how many. 'failed' rows stay for the dead-letter desk.
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

  /**
   * Puts a failed or ignored row back to 'received' so it goes through processing again (attempts
   * and last_error reset). Says why not otherwise.
   */
  async reopen(id: string): Promise<{ reopened: RequeueCandidate } | { status: WebhookEventStatus } | null> {
    const [rows]: [RawCandidate[], number] = await this.dataSource.query(
      `UPDATE webhook_events SET status = 'received', last_error = NULL, processed_at = NULL, attempts = 0, recoveries = 0, updated_at = now()
       WHERE id = $1 AND status IN ('failed', 'ignored')
       RETURNING id, event, request_id, ${JOB_SUFFIX}`,
      [id],
    );
    if (rows.length > 0) return { reopened: toCandidate(rows[0]) };
    const current = await this.repo.findOne({ where: { id }, select: { id: true, status: true } });
    return current ? { status: current.status } : null;
  }

  /** Bulk reopen, oldest first, at most `limit` rows. */
  async reopenMany(status: 'failed' | 'ignored', limit: number, event?: string): Promise<RequeueCandidate[]> {
    const [rows]: [RawCandidate[], number] = await this.dataSource.query(
      `WITH picked AS (
         SELECT id FROM webhook_events WHERE status = $1 AND ($3::text IS NULL OR event = $3)
         ORDER BY received_at ASC LIMIT $2 FOR UPDATE SKIP LOCKED)
       UPDATE webhook_events e SET status = 'received', last_error = NULL, processed_at = NULL, attempts = 0, recoveries = 0, updated_at = now()
       FROM picked WHERE e.id = picked.id
       RETURNING e.id, e.event, e.request_id, ${JOB_SUFFIX}`,
      [status, limit, event ?? null],
    );
    return rows.map(toCandidate);
  }

  /**
   * The admin listing: newest first, keyset-paginated on (received_at, id). `after` is the `key` of
   * the last row of the previous page (received_at with microseconds, and id).
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
    const rows: Array<Record<string, unknown>> = await this.dataSource.query(
      `SELECT id, event, session_id, status, attempts, last_error, request_id, received_at, processed_at, updated_at,
              to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_key
       FROM webhook_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY received_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => ({ ...toSummary(r), key: { receivedAt: r.received_key as string, id: r.id as string } }));
  }
}

export interface RequeueCandidate {
  id: string;
  event: string;
  requestId?: string;
  /** Undefined while the row keeps its original job id; else the suffix of its fresh one. */
  jobSuffix?: string;
  /** The batch job that carried the row's first attempt, if any (only findStaleReceived reads it). */
  batchJobId?: string;
}

interface RawCandidate {
  id: string;
  event: string;
  request_id: string | null;
  job_suffix: string | null;
  batch_job_id?: string | null;
}

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

export interface Recovered {
  requeued: RequeueCandidate[];
  /** Rows ended 'failed' because they were put back too often. */
  gaveUp: Array<{ id: string; event: string }>;
}

interface RecoveredRaw extends RawCandidate {
  status: WebhookEventStatus;
}

function splitRecovered(rows: RecoveredRaw[]): Recovered {
  return {
    requeued: rows.filter((r) => r.status === 'received').map(toCandidate),
    gaveUp: rows.filter((r) => r.status === 'failed').map((r) => ({ id: r.id, event: r.event })),
  };
}

const JOB_SUFFIX = `CASE WHEN updated_at = received_at THEN NULL ELSE 'r' || (extract(epoch FROM updated_at) * 1000000)::bigint END AS job_suffix`;

/**
 * The job id a row is enqueued under now: its id until it is first reopened, then `${id}-${suffix}`.
 * Replays and the sweeper compute the same id for the same reopen, so racing enqueues collapse.
 */
export function jobIdOf(row: Pick<RequeueCandidate, 'id' | 'jobSuffix'>): string {
  return row.jobSuffix ? `${row.id}-${row.jobSuffix}` : row.id;
}

function toCandidate(r: RawCandidate): RequeueCandidate {
  return { id: r.id, event: r.event, requestId: r.request_id ?? undefined, jobSuffix: r.job_suffix ?? undefined, batchJobId: r.batch_job_id ?? undefined };
}

export interface EventListFilter {
  status?: WebhookEventStatus;
  event?: string;
  sessionId?: string;
  limit: number;
  after?: { receivedAt: string; id: string };
}

export interface EventSummary {
  id: string;
  event: string;
  session_id: string;
  status: WebhookEventStatus;
  attempts: number;
  last_error: string | null;
  request_id: string | null;
  received_at: Date;
  processed_at: Date | null;
  updated_at: Date;
}

function toSummary(r: Record<string, unknown>): EventSummary {
  return {
    id: r.id as string,
    event: r.event as string,
    session_id: r.session_id as string,
    status: r.status as WebhookEventStatus,
    attempts: r.attempts as number,
    last_error: (r.last_error as string | null) ?? null,
    request_id: (r.request_id as string | null) ?? null,
    received_at: r.received_at as Date,
    processed_at: (r.processed_at as Date | null) ?? null,
    updated_at: r.updated_at as Date,
  };
}

function mapRaw(raw: Record<string, unknown>): Partial<WebhookEvent> {
  return {
    id: raw.id as string,
    idempotencyKey: raw.idempotency_key as string,
    event: raw.event as string,
    sessionId: raw.session_id as string,
    payload: raw.payload as Record<string, unknown>,
    signatureScheme: raw.signature_scheme as WebhookEvent['signatureScheme'],
    status: raw.status as WebhookEventStatus,
    attempts: raw.attempts as number,
    lastError: (raw.last_error as string | null) ?? null,
    requestId: (raw.request_id as string | null) ?? null,
    batchJobId: (raw.batch_job_id as string | null) ?? null,
    receivedAt: raw.received_at as Date,
    processedAt: (raw.processed_at as Date | null) ?? null,
    updatedAt: raw.updated_at as Date,
  };
}
