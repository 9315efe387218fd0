import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { EventHandler, HandledEvent, HandlesEvent, PermanentFailure } from '../events/event-handler.js';
import { NotificationsService } from '../notifications/notifications.service.js';
import { interviewCompleted } from './interview-completed.event.js';
import { Interview } from './interview.entity.js';
import { InterviewMetrics } from './interviews.metrics.js';
import { TranscriptClient, TranscriptError } from './transcript-client.js';

/**
 * `interview.completed`: downloads the transcript (SSRF-guarded), stores one row per session
 * (updated, never duplicated, on a retry or replay), then notifies. The row is committed before the
 * notification is attempted, so a Slack failure never loses or undoes it.
 */
@HandlesEvent(interviewCompleted)
@Injectable()
export class InterviewCompletedHandler implements EventHandler<typeof interviewCompleted> {
  constructor(
    @InjectRepository(Interview) private readonly repo: Repository<Interview>,
    private readonly transcripts: TranscriptClient,
    private readonly notifications: NotificationsService,
    private readonly metrics: InterviewMetrics,
  ) {}

  async handle({ sessionId, payload }: HandledEvent<typeof interviewCompleted>): Promise<void> {
    const interview = {
      sessionId,
      participantEmail: payload.invitee_email ?? null,
      durationMinutes: payload.total_minutes ?? null,
      completedAt: payload.timestamp ? new Date(payload.timestamp) : null,
    };
    const store = (transcript: object | null) =>
      this.repo.upsert({ ...interview, transcript }, { conflictPaths: ['sessionId'], skipUpdateIfNoValuesChanged: false });
    if (payload.transcript_url) {
      const body = await this.download(payload.transcript_url);
      // The parsed transcript is held (and counted against the client's memory budget) only until stored.
      await this.transcripts.parse(body, store).catch((err: Error) => {
        throw err instanceof TranscriptError ? new PermanentFailure(err.message) : err;
      });
    } else {
      await store(null);
    }
    await this.notifications.notifyInterviewCompleted(interview);
  }

  private async download(url: string): Promise<Buffer> {
    const started = performance.now();
    try {
      const body = await this.transcripts.download(url);
      this.metrics.recordDownload('ok', (performance.now() - started) / 1000);
      return body;
    } catch (err) {
      const permanent = err instanceof TranscriptError && err.permanent;
      this.metrics.recordDownload(permanent ? 'refused' : 'error', (performance.now() - started) / 1000);
      if (permanent) throw new PermanentFailure((err as Error).message);
      throw err;
    }
  }
}
