import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ListsSessionRecords, SessionRecord, SessionRecordsReader } from '../events/session-records.js';
import { Interview } from './interview.entity.js';

/** The interview stored for a session (for the events console): no email, no transcript text. */
@ListsSessionRecords({ name: 'interviews' })
@Injectable()
export class InterviewRecords implements SessionRecordsReader {
  constructor(@InjectRepository(Interview) private readonly interviews: Repository<Interview>) {}

  async recordsOf(sessionId: string): Promise<SessionRecord[]> {
    const rows = await this.interviews
      .createQueryBuilder('i')
      .select(['i.id AS id', 'i.transcript IS NOT NULL AS has_transcript', 'i.duration_minutes AS duration_minutes'])
      .addSelect(['i.completed_at AS completed_at', 'i.created_at AS created_at', 'i.updated_at AS updated_at'])
      .where('i.session_id = :sessionId', { sessionId })
      .getRawMany<{
        id: string;
        has_transcript: boolean;
        duration_minutes: number | null;
        completed_at: Date | null;
        created_at: Date;
        updated_at: Date;
      }>();
    return rows.map(({ id, ...facts }) => ({ kind: 'interview', id, facts }));
  }
}
