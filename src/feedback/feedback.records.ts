import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ListsSessionRecords, SessionRecord, SessionRecordsReader } from '../events/session-records.js';
import { Feedback } from './feedback.entity.js';

/** The feedback stored for a session (for the events console): whether it has a rating and a comment, not what they say. */
@ListsSessionRecords({ name: 'feedback' })
@Injectable()
export class FeedbackRecords implements SessionRecordsReader {
  constructor(@InjectRepository(Feedback) private readonly feedback: Repository<Feedback>) {}

  async recordsOf(sessionId: string): Promise<SessionRecord[]> {
    const rows = await this.feedback
      .createQueryBuilder('f')
      .select(['f.id AS id', 'f.rating IS NOT NULL AS has_rating', 'f.comment IS NOT NULL AS has_comment'])
      .addSelect(['f.submitted_at AS submitted_at', 'f.created_at AS created_at', 'f.updated_at AS updated_at'])
      .where('f.session_id = :sessionId', { sessionId })
      .getRawMany<{
        id: string;
        has_rating: boolean;
        has_comment: boolean;
        submitted_at: Date | null;
        created_at: Date;
        updated_at: Date;
      }>();
    return rows.map(({ id, ...facts }) => ({ kind: 'feedback', id, facts }));
  }
}
