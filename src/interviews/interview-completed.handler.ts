import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { MicroBatcher } from '../common/micro-batcher.js';
import { isDataError } from '../common/pg-errors.js';
import { SqlStatements } from '../database/sql-statements.js';
import { EventHandler, HandledEvent, HandlesEvent, PermanentFailure } from '../events/event-handler.js';
import { NotificationsService } from '../notifications/notifications.service.js';
import { ErasureService } from '../privacy/erasure.service.js';
import { inSpan, SPAN } from '../tracing/spans.js';
import { interviewCompleted } from './interview-completed.event.js';
import { Interview } from './interview.entity.js';
import { InterviewMetrics } from './interviews.metrics.js';
import { TranscriptClient, TranscriptError } from './transcript-client.js';

type InterviewRow = Pick<Interview, 'sessionId' | 'participantEmail' | 'durationMinutes' | 'transcript'> & { completedAt: string | null };

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
    @InjectRepository(Interview) private readonly interviews: Repository<Interview>,
    private readonly statements: SqlStatements,
    private readonly transcripts: TranscriptClient,
    private readonly notifications: NotificationsService,
    private readonly metrics: InterviewMetrics,
    private readonly erasures: ErasureService,
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
        sessionId,
        participantEmail: interview.participantEmail,
        durationMinutes: interview.durationMinutes,
        completedAt: payload.timestamp ?? null,
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
    // Erased while the transcript downloaded: nothing goes to Slack (the runner erases what was stored).
    if (await this.erasures.isErased(sessionId)) return;
    await this.notifications.notifyInterviewCompleted(interview);
  }

  private async upsertBatch(rows: InterviewRow[]): Promise<void[]> {
    // ON CONFLICT DO UPDATE may touch a row only once per statement: the last write per session wins.
    // Rows go in in key order, so that concurrent batches lock shared rows in one order (no deadlock).
    const latest = [...new Map(rows.map((r) => [r.sessionId, r])).values()].sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1));
    const [sql, params] = this.interviews
      .createQueryBuilder()
      .insert()
      // The timestamp as the delivery wrote it: PostgreSQL reads its offset.
      .values(latest)
      .orUpdate(['participant_email', 'duration_minutes', 'completed_at', 'transcript', 'updated_at'], ['session_id'])
      .updateEntity(false)
      .getQueryAndParameters();
    // The repository's statement, on the worker's connections that commit without waiting for the
    // flush: redone by the sweeper if a crash undoes it; a Slack post after it commits durably, and
    // with it this. Unnamed: its text follows the batch's size.
    await this.statements.query(null, sql, params, 'async');
    return rows.map(() => undefined);
  }

  private download(url: string): Promise<Buffer> {
    // The URL stays out of the span (it may carry a token); its size says what came back.
    return inSpan(SPAN.transcript, {}, async (span) => {
      const body = await this.downloadOnce(url);
      span?.setAttribute('transcript.bytes', body.length);
      return body;
    });
  }

  private async downloadOnce(url: string): Promise<Buffer> {
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
