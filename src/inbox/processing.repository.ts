import { Injectable } from '@nestjs/common';
import { MicroBatcher } from '../common/micro-batcher.js';
import { isDataError } from '../common/pg-errors.js';
import { storableText } from '../common/storable.js';
import { SqlStatements } from '../database/sql-statements.js';

/** Worker-side writes: up to a full worker's events per statement, two statements in flight. */
const WORKER_BATCHING = { maxBatch: 256, maxConcurrent: 2, isolate: isDataError };

/** Which job asks for which row. */
interface Claim {
  id: string;
  jobId: string;
}

/** A row claimed for processing: what the processor needs of it. */
export interface ClaimedRow {
  id: string;
  event: string;
  sessionId: string;
  payload: Record<string, unknown>;
}

/**
 * The inbox as the worker sees it: claims and outcomes. Claims and outcomes of concurrently running
 * events share one statement (one commit) per batch, committed asynchronously (SqlStatements): one
 * lost in a PostgreSQL crash leaves the row received or processing, and the sweeper puts it back
 * through processing. Dead letters commit durably.
 */
@Injectable()
export class InboxProcessingRepository {
  private readonly claims = new MicroBatcher<Claim, ClaimedRow | null>((claims) => this.claimBatch(claims), WORKER_BATCHING);
  private readonly outcomes = new MicroBatcher<{ id: string; status: 'processed' | 'ignored' }, boolean>(
    (items) => this.outcomeBatch(items),
    WORKER_BATCHING,
  );

  constructor(private readonly statements: SqlStatements) {}

  /**
   * `received` (or an interrupted `processing`) → `processing`, attempts + 1, for the job that carries
   * the row (job-ids.ts): null when the row is final or gone, or another job carries it now.
   */
  claim(id: string, jobId: string): Promise<ClaimedRow | null> {
    return this.claims.submit({ id, jobId });
  }

  /** Records the outcome; false when the row is gone (its subject was erased while the event ran). */
  complete(id: string, status: 'processed' | 'ignored'): Promise<boolean> {
    return this.outcomes.submit({ id, status });
  }

  /** Whether the row still exists (an erasure deletes it). */
  async exists(id: string): Promise<boolean> {
    const { rows } = await this.statements.query('inbox-exists', `SELECT 1 FROM webhook_events WHERE id = $1`, [id]);
    return rows.length > 0;
  }

  /** The dead letter: `failed` with the reason an operator reads on the dead-letter desk. */
  async fail(id: string, reason: string): Promise<void> {
    await this.statements.query(
      'inbox-fail',
      `UPDATE webhook_events SET status = 'failed', last_error = $2, updated_at = now() WHERE id = $1`,
      [id, storableText(reason)],
    );
  }

  /**
   * Keeps a failed attempt's error on the row while it is retried. Only on a claimed row: a 'received'
   * row's updated_at says when it was reopened (job-ids.ts, JOB_ID_SQL).
   */
  async noteAttemptError(id: string, error: string): Promise<void> {
    await this.statements.query(
      'inbox-attempt-error',
      `UPDATE webhook_events SET last_error = $2, updated_at = now() WHERE id = $1 AND status = 'processing'`,
      [id, storableText(error)],
    );
  }

  private async claimBatch(claims: Claim[]): Promise<Array<ClaimedRow | null>> {
    // A row asked for twice in one statement (two jobs racing) is updated once; RETURNING says for which job.
    const { rows } = await this.statements.query<ClaimedRow & { job_id: string }>(
      'inbox-claim',
      `UPDATE webhook_events AS e SET status = 'processing', attempts = e.attempts + 1, updated_at = now()
       FROM unnest($1::uuid[], $2::text[]) AS x(id, job_id)
       WHERE e.id = x.id AND e.status IN ('received', 'processing') AND (e.job_id IS NULL OR e.job_id = x.job_id)
       RETURNING e.id, e.event, e.session_id AS "sessionId", e.payload, x.job_id`,
      [claims.map((c) => c.id), claims.map((c) => c.jobId)],
      'async',
    );
    const claimed = new Map(rows.map(({ job_id, ...row }) => [`${row.id} ${job_id}`, row]));
    return claims.map((c) => claimed.get(`${c.id} ${c.jobId}`) ?? null);
  }

  private async outcomeBatch(items: Array<{ id: string; status: 'processed' | 'ignored' }>): Promise<boolean[]> {
    const { rows } = await this.statements.query<{ id: string }>(
      'inbox-outcome',
      `UPDATE webhook_events AS e SET status = x.status, processed_at = now(), last_error = NULL, updated_at = now()
       FROM unnest($1::uuid[], $2::text[]) AS x(id, status) WHERE e.id = x.id RETURNING e.id`,
      [items.map((i) => i.id), items.map((i) => i.status)],
      'async',
    );
    const recorded = new Set(rows.map((r) => r.id));
    return items.map((i) => recorded.has(i.id));
  }
}
