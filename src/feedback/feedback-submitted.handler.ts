import { Injectable } from '@nestjs/common';
import { MicroBatcher } from '../common/micro-batcher.js';
import { isDataError } from '../common/pg-errors.js';
import { SqlStatements } from '../database/sql-statements.js';
import { EventHandler, HandledEvent, HandlesEvent } from '../events/event-handler.js';
import { feedbackSubmitted } from './feedback-submitted.event.js';

interface FeedbackRow {
  session_id: string;
  rating: number | null;
  comment: string | null;
  payload: Record<string, unknown>;
  submitted_at: string | null;
}

/**
 * `session.feedback_submitted`: one row per session, updated (never duplicated) on replay. Feedback
 * may come before its interview; nothing depends on the order. Concurrently running jobs share one
 * upsert statement (one commit) instead of one each.
 */
@HandlesEvent(feedbackSubmitted)
@Injectable()
export class FeedbackSubmittedHandler implements EventHandler<typeof feedbackSubmitted> {
  private readonly upserts = new MicroBatcher<FeedbackRow, void>((rows) => this.upsertBatch(rows), {
    maxBatch: 256,
    maxConcurrent: 2,
    // A session's feedback PostgreSQL refuses fails its own event only; the rest of the batch is written.
    isolate: isDataError,
  });

  constructor(private readonly statements: SqlStatements) {}

  async handle({ sessionId, payload }: HandledEvent<typeof feedbackSubmitted>): Promise<void> {
    const feedback = payload.feedback ?? {};
    await this.upserts.submit({
      session_id: sessionId,
      rating: typeof feedback.rating === 'number' && Number.isFinite(feedback.rating) ? feedback.rating : null,
      comment: typeof feedback.comment === 'string' ? feedback.comment : null,
      payload: feedback,
      submitted_at: payload.timestamp ?? null,
    });
  }

  private async upsertBatch(rows: FeedbackRow[]): Promise<void[]> {
    // ON CONFLICT DO UPDATE may touch a row only once per statement: the last write per session wins.
    // Rows go in in key order, so that concurrent batches lock shared rows in one order (no deadlock).
    const latest = [...new Map(rows.map((r) => [r.session_id, r])).values()];
    await this.statements.query(
      'feedback-upsert',
      `INSERT INTO feedback (session_id, rating, comment, payload, submitted_at)
       SELECT session_id, rating, comment, payload, submitted_at
       FROM jsonb_to_recordset($1::jsonb)
         AS x(session_id text, rating double precision, comment text, payload jsonb, submitted_at timestamptz)
       ORDER BY session_id
       ON CONFLICT (session_id) DO UPDATE
         SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, payload = EXCLUDED.payload,
             submitted_at = EXCLUDED.submitted_at, updated_at = now()`,
      [JSON.stringify(latest)],
      // Idempotent, and redone by the sweeper if a crash undoes it: no need to wait for the flush.
      'async',
    );
    return rows.map(() => undefined);
  }
}
