import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm';
import { EventHandler, HandledEvent } from '../queue/event-handler.js';
import { Interview } from './interview.entity.js';

/** Stores `interview.completed`: one row per session, updated (never duplicated) on replay. */
@Injectable()
export class InterviewsService implements EventHandler {
  readonly event = 'interview.completed' as const;

  constructor(@InjectRepository(Interview) private readonly repo: Repository<Interview>) {}

  async handle({ sessionId, payload }: HandledEvent): Promise<void> {
    // TODO(issue 3): download the transcript (SSRF-guarded) and notify Slack.
    await this.repo.upsert(
      {
        sessionId,
        participantEmail: payload.invitee_email ?? null,
        transcript: null,
        durationMinutes: payload.total_minutes ?? null,
        completedAt: payload.timestamp ? new Date(payload.timestamp) : null,
      } as QueryDeepPartialEntity<Interview>,
      { conflictPaths: ['sessionId'], skipUpdateIfNoValuesChanged: false },
    );
  }
}
