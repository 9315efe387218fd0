import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { RetentionKind } from '../config/configuration.js';
import { DataSubject, expireOldest, HoldsPersonalData, PersonalDataHolder, RetentionWindow } from '../events/personal-data.js';
import { Feedback } from './feedback.entity.js';

/** Feedback's personal data: the invitee's comment and the whole feedback object, keyed by session. */
@HoldsPersonalData({
  name: 'feedback',
  retention: ['feedback'],
  columns: ['feedback.session_id', 'feedback.comment', 'feedback.payload'],
})
@Injectable()
export class FeedbackPersonalData implements PersonalDataHolder {
  constructor(@InjectRepository(Feedback) private readonly feedback: Repository<Feedback>) {}

  /** Feedback carries no email: only an erasure by email's sessions reach it. */
  sessionsOf(): Promise<string[]> {
    return Promise.resolve([]);
  }

  async find(subject: DataSubject): Promise<Record<string, unknown[]>> {
    const rows = await this.feedback
      .createQueryBuilder('f')
      .where('f.session_id = ANY(:sessions)', { sessions: subject.sessionIds })
      .orderBy('f.created_at')
      .getMany();
    return {
      feedback: rows.map((f) => ({
        session_id: f.sessionId,
        rating: f.rating,
        comment: f.comment,
        payload: f.payload,
        submitted_at: f.submittedAt,
        created_at: f.createdAt,
        updated_at: f.updatedAt,
      })),
    };
  }

  async erase(subject: DataSubject): Promise<Record<string, number>> {
    const deleted = await this.feedback
      .createQueryBuilder()
      .delete()
      .where('session_id = ANY(:sessions)', { sessions: subject.sessionIds })
      .execute();
    return { feedback: deleted.affected ?? 0 };
  }

  async expire(kind: RetentionKind, window: RetentionWindow, limit: number): Promise<{ expired: number; reached?: Date }> {
    if (kind !== 'feedback') return { expired: 0 };
    return expireOldest(this.feedback, window, limit, { storedAt: 'created_at' });
  }
}
