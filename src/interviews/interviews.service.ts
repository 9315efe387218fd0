import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm';
import { NotificationsService } from '../notifications/notifications.service.js';
import { EventHandler, HandledEvent, PermanentFailure } from '../queue/event-handler.js';
import { Interview } from './interview.entity.js';
import { InterviewMetrics } from './interviews.metrics.js';
import { TranscriptClient, TranscriptError } from './transcript-client.js';

/**
 * Handles `interview.completed`: downloads the transcript (SSRF-guarded), stores one row per
 * session (updated, never duplicated, on a retry or replay), then notifies. The row is committed
 * before the notification is attempted, so a Slack failure never loses or undoes it.
 */
@Injectable()
export class InterviewsService implements EventHandler {
  readonly event = 'interview.completed' as const;

  constructor(
    @InjectRepository(Interview) private readonly repo: Repository<Interview>,
    private readonly transcripts: TranscriptClient,
    private readonly notifications: NotificationsService,
    private readonly metrics: InterviewMetrics,
  ) {}

  async handle({ sessionId, payload }: HandledEvent): Promise<void> {
    const transcript = payload.transcript_url ? await this.download(payload.transcript_url) : null;
    const interview = {
      sessionId,
      participantEmail: payload.invitee_email ?? null,
      transcript,
      durationMinutes: payload.total_minutes ?? null,
      completedAt: payload.timestamp ? new Date(payload.timestamp) : null,
    };
    await this.repo.upsert(interview as QueryDeepPartialEntity<Interview>, { conflictPaths: ['sessionId'], skipUpdateIfNoValuesChanged: false });
    await this.notifications.notifyInterviewCompleted(interview);
  }

  findBySession(sessionId: string): Promise<Interview | null> {
    return this.repo.findOneBy({ sessionId });
  }

  private async download(url: string): Promise<object> {
    const started = performance.now();
    try {
      const transcript = (await this.transcripts.fetch(url)) as object;
      this.metrics.recordDownload('ok', (performance.now() - started) / 1000);
      return transcript;
    } catch (err) {
      const permanent = err instanceof TranscriptError && err.permanent;
      this.metrics.recordDownload(permanent ? 'refused' : 'error', (performance.now() - started) / 1000);
      if (permanent) throw new PermanentFailure((err as Error).message);
      throw err;
    }
  }
}
