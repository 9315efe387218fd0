import { Injectable } from '@nestjs/common';
import { MicroBatcher } from '../common/micro-batcher.js';
import { isDataError } from '../common/pg-errors.js';
import { SqlStatements } from '../database/sql-statements.js';
import { EventHandler, HandledEvent, HandlesEvent, PermanentFailure } from '../events/event-handler.js';
import { NotificationsService } from '../notifications/notifications.service.js';
import { interviewCompleted } from './interview-completed.event.js';
import { InterviewMetrics } from './interviews.metrics.js';
import { TranscriptClient, TranscriptError } from './transcript-client.js';

interface InterviewRow {
  session_id: string;
  participant_email: string | null;
  duration_minutes: number | null;
  completed_at: string | null;
  transcript: object | null;
}

/**
 * `interview.completed`: downloads the transcript (SSRF-guarded), stores one row per session
 * (updated, never duplicated, on a retry or replay), then notifies. The row is committed before the
 * notification is attempted, so a Slack failure never loses or undoes it. Concurrently running
 * events share one upsert statement; one PostgreSQL refuses fails alone.
 */
@HandlesEvent(interviewCompleted)
@Injectable()
export class InterviewCompletedHandler implements EventHandler<typeof interviewCompleted> {
  // Transcripts can be large (up to TRANSCRIPT_MAX_BYTES each): a few per statement.
  private readonly upserts = new MicroBatcher<InterviewRow, void>((rows) => this.upsertBatch(rows), {
    maxBatch: 16,
    maxConcurrent: 2,
    isolate: isDataError,
  });

  constructor(
    private readonly statements: SqlStatements,
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
      this.upserts.submit({
        session_id: sessionId,
        participant_email: interview.participantEmail,
        duration_minutes: interview.durationMinutes,
        completed_at: payload.timestamp ?? null,
        transcript,
      });
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

  private async upsertBatch(rows: InterviewRow[]): Promise<void[]> {
    // ON CONFLICT DO UPDATE may touch a row only once per statement: the last write per session wins.
    // Rows go in in key order, so that concurrent batches lock shared rows in one order (no deadlock).
    const latest = [...new Map(rows.map((r) => [r.session_id, r])).values()];
    await this.statements.query(
      'interview-upsert',
      `INSERT INTO interviews (session_id, participant_email, duration_minutes, completed_at, transcript)
       SELECT session_id, participant_email, duration_minutes, completed_at, transcript
       FROM jsonb_to_recordset($1::jsonb)
         AS x(session_id text, participant_email text, duration_minutes double precision, completed_at timestamptz, transcript jsonb)
       ORDER BY session_id
       ON CONFLICT (session_id) DO UPDATE
         SET participant_email = EXCLUDED.participant_email, duration_minutes = EXCLUDED.duration_minutes,
             completed_at = EXCLUDED.completed_at, transcript = EXCLUDED.transcript, updated_at = now()`,
      [JSON.stringify(latest)],
      // Redone by the sweeper if a crash undoes it; a Slack post after it commits durably, and with it this.
      'async',
    );
    return rows.map(() => undefined);
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
