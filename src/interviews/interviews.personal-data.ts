import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, Repository } from 'typeorm';
import type { RetentionKind } from '../config/configuration.js';
import { DataSubject, expireOldest, HoldsPersonalData, PersonalDataHolder, RetentionWindow } from '../events/personal-data.js';
import { Interview } from './interview.entity.js';

/**
 * The interviews' personal data: the participant's email and the transcript (their words, verbatim),
 * keyed by session. Retention removes transcripts (the row stays) and interview rows separately.
 */
@HoldsPersonalData({
  name: 'interviews',
  retention: ['transcripts', 'interviews'],
  columns: ['interviews.session_id', 'interviews.participant_email', 'interviews.transcript'],
})
@Injectable()
export class InterviewsPersonalData implements PersonalDataHolder {
  constructor(@InjectRepository(Interview) private readonly interviews: Repository<Interview>) {}

  async sessionsOf(email: string): Promise<string[]> {
    // ix_interviews_participant_email
    const rows = await this.interviews
      .createQueryBuilder('i')
      .select('i.session_id', 'session_id')
      .where('lower(i.participant_email) = :email', { email })
      .getRawMany<{ session_id: string }>();
    return rows.map((r) => r.session_id);
  }

  async find(subject: DataSubject): Promise<Record<string, unknown[]>> {
    const rows = await this.interviews.createQueryBuilder('i').where(ofSubject(subject, 'i.')).orderBy('i.created_at').getMany();
    return {
      interviews: rows.map((i) => ({
        session_id: i.sessionId,
        participant_email: i.participantEmail,
        duration_minutes: i.durationMinutes,
        completed_at: i.completedAt,
        transcript: i.transcript,
        created_at: i.createdAt,
        updated_at: i.updatedAt,
      })),
    };
  }

  async erase(subject: DataSubject): Promise<Record<string, number>> {
    const deleted = await this.interviews
      .createQueryBuilder()
      .delete()
      .where(ofSubject(subject, ''))
      .returning('transcript IS NOT NULL AS had_transcript')
      .execute();
    const rows = (deleted.raw ?? []) as Array<{ had_transcript: boolean }>;
    return { interviews: rows.length, transcripts: rows.filter((r) => r.had_transcript).length };
  }

  async expire(kind: RetentionKind, window: RetentionWindow, limit: number): Promise<{ expired: number; reached?: Date }> {
    if (kind === 'interviews') return expireOldest(this.interviews, window, limit, { storedAt: 'created_at' });
    if (kind !== 'transcripts') return { expired: 0 };
    return expireOldest(this.interviews, window, limit, {
      storedAt: 'created_at',
      where: '$.transcript IS NOT NULL',
      set: { transcript: () => 'NULL' },
    });
  }
}

function ofSubject(subject: DataSubject, alias: string): Brackets {
  return new Brackets((w) => {
    w.where(`${alias}session_id = ANY(:sessions)`, { sessions: subject.sessionIds });
    if (subject.email !== undefined) w.orWhere(`lower(${alias}participant_email) = :email`, { email: subject.email });
  });
}
