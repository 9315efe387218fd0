import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm';
import { EventHandler, HandledEvent } from '../queue/event-handler.js';
import { Feedback } from './feedback.entity.js';

/** Stores `session.feedback_submitted`: one row per session, updated (never duplicated) on replay. */
@Injectable()
export class FeedbackService implements EventHandler {
  readonly event = 'session.feedback_submitted' as const;

  constructor(@InjectRepository(Feedback) private readonly repo: Repository<Feedback>) {}

  async handle({ sessionId, payload }: HandledEvent): Promise<void> {
    const feedback = payload.feedback ?? {};
    await this.repo.upsert(
      {
        sessionId,
        rating: typeof feedback.rating === 'number' && Number.isFinite(feedback.rating) ? feedback.rating : null,
        comment: typeof feedback.comment === 'string' ? feedback.comment : null,
        payload: feedback,
        submittedAt: payload.timestamp ? new Date(payload.timestamp) : null,
      } as QueryDeepPartialEntity<Feedback>,
      { conflictPaths: ['sessionId'], skipUpdateIfNoValuesChanged: false },
    );
  }

  findBySession(sessionId: string): Promise<Feedback | null> {
    return this.repo.findOneBy({ sessionId });
  }
}
