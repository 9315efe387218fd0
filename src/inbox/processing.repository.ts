import { Injectable } from '@nestjs/common';
import { MicroBatcher } from '../common/micro-batcher.js';
import { isDataError } from '../common/pg-errors.js';
import { storableText } from '../common/storable.js';
import { SqlStatements } from '../database/sql-statements.js';

/** Worker-side writes: up to a full worker's events per statement, two statements in flight. */
const WORKER_BATCHING = { maxBatch: 256, maxConcurrent: 2, isolate: isDataError };

/** A row claimed for processing: what the processor needs of it. */
export interface ClaimedRow {
  id: string;
  event: string;
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
  private readonly claims = new MicroBatcher<string, ClaimedRow | null>((ids) => this.claimBatch(ids), WORKER_BATCHING);
  private readonly outcomes = new MicroBatcher<{ id: string; status: 'processed' | 'ignored' }, void>(
    (items) => this.outcomeBatch(items),
    WORKER_BATCHING,
  );

  constructor(private readonly statements: SqlStatements) {}

  /** `received` (or an interrupted `processing`) → `processing`, attempts + 1; null when the row is final or gone. */
  claim(id: string): Promise<ClaimedRow | null> {
    return this.claims.submit(id);
  }

  complete(id: string, status: 'processed' | 'ignored'): Promise<void> {
    return this.outcomes.submit({ id, status });
  }

  /** The dead letter: `failed` with the reason an operator reads on the dead-letter desk. */
  async fail(id: string, reason: string): Promise<void> {
    await this.statements.query(
      'inbox-fail',
      `UPDATE webhook_events SET status = 'failed', last_error = $2, updated_at = now() WHERE id = $1`,
      [id, storableText(reason)],
    );
  }

  /** Keeps a failed attempt's error on the row while it is retried. */
  async noteAttemptError(id: string, error: string): Promise<void> {
    await this.statements.query('inbox-attempt-error', `UPDATE webhook_events SET last_error = $2, updated_at = now() WHERE id = $1`, [
      id,
      storableText(error),
    ]);
  }

  private async claimBatch(ids: string[]): Promise<Array<ClaimedRow | null>> {
    const { rows } = await this.statements.query<ClaimedRow>(
      'inbox-claim',
      `UPDATE webhook_events SET status = 'processing', attempts = attempts + 1, updated_at = now()
       WHERE id = ANY($1::uuid[]) AND status IN ('received', 'processing') RETURNING id, event, payload`,
      [[...new Set(ids)]],
      'async',
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  private async outcomeBatch(items: Array<{ id: string; status: 'processed' | 'ignored' }>): Promise<void[]> {
    await this.statements.query(
      'inbox-outcome',
      `UPDATE webhook_events AS e SET status = x.status, processed_at = now(), last_error = NULL, updated_at = now()
       FROM unnest($1::uuid[], $2::text[]) AS x(id, status) WHERE e.id = x.id`,
      [items.map((i) => i.id), items.map((i) => i.status)],
      'async',
    );
    return items.map(() => undefined);
  }
}
