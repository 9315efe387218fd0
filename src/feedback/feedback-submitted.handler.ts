import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { MicroBatcher } from '../common/micro-batcher.js';
import { isDataError } from '../common/pg-errors.js';
import { SqlStatements } from '../database/sql-statements.js';
import { EventHandler, HandledEvent, HandlesEvent } from '../events/event-handler.js';
import { feedbackSubmitted } from './feedback-submitted.event.js';
import { Feedback } from './feedback.entity.js';

type FeedbackRow = Pick<Feedback, 'sessionId' | 'rating' | 'comment' | 'payload'> & { submittedAt: string | null };

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

  constructor(
    @InjectRepository(Feedback) private readonly feedback: Repository<Feedback>,
    private readonly statements: SqlStatements,
  ) {}

  async handle({ sessionId, payload }: HandledEvent<typeof feedbackSubmitted>): Promise<void> {
    const feedback = payload.feedback ?? {};
    await this.upserts.submit({
      sessionId,
      rating: typeof feedback.rating === 'number' && Number.isFinite(feedback.rating) ? feedback.rating : null,
      comment: typeof feedback.comment === 'string' ? feedback.comment : null,
      payload: feedback,
      submittedAt: payload.timestamp ?? null,
    });
  }

  private async upsertBatch(rows: FeedbackRow[]): Promise<void[]> {
    // ON CONFLICT DO UPDATE may touch a row only once per statement: the last write per session wins.
    // Rows go in in key order, so that concurrent batches lock shared rows in one order (no deadlock).
    const latest = [...new Map(rows.map((r) => [r.sessionId, r])).values()].sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1));
    const [sql, params] = this.feedback
      .createQueryBuilder()
      .insert()
      // The timestamp as the delivery wrote it: PostgreSQL reads its offset.
      .values(latest as unknown as QueryDeepPartialEntity<Feedback>[])
      .orUpdate(['rating', 'comment', 'payload', 'submitted_at', 'updated_at'], ['session_id'])
      .updateEntity(false)
      .getQueryAndParameters();
    // The repository's statement, run on the worker's connections that commit without waiting for the
    // flush (idempotent, redone by the sweeper if a crash undoes it). Unnamed: its text follows the
    // batch's size.
    await this.statements.query(null, sql, params, 'async');
    return rows.map(() => undefined);
  }
}
