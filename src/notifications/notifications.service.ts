import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import type { AxiosResponse } from 'axios';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Repository } from 'typeorm';
import { createHttpClient } from '../common/http-client.js';
import { MicroBatcher } from '../common/micro-batcher.js';
import { isDataError } from '../common/pg-errors.js';
import { storableText } from '../common/storable.js';
import { SqlStatements } from '../database/sql-statements.js';
import { AppConfig } from '../config/configuration.js';
import { PermanentFailure, RetryLaterError } from '../events/event-handler.js';
import { Notification, NotificationStatus, REPEAT_NOTE } from './notification.entity.js';
import { NotificationMetrics } from './notifications.metrics.js';
import { InterviewCompletedNotice, interviewCompletedMessage, retryAfterMs } from './slack-message.js';
import { inSpan, SPAN } from '../tracing/spans.js';

export const INTERVIEW_COMPLETED_KIND = 'slack.interview_completed';

export type NotifyOutcome = 'sent' | 'already_sent' | 'skipped';

/** When Slack answers 429 without a readable Retry-After. */
const DEFAULT_RETRY_AFTER_MS = 30_000;

/**
 * Posts Slack notifications once per (kind, session). The notifications row is claimed
 * ('sending') before the POST and records the outcome after it, so a retried, redelivered or
 * replayed job finds 'sent' and posts nothing. Errors are typed for the processor: PermanentFailure
 * (Slack refused the message), RetryLaterError (429, or another worker is posting right now), any
 * other error is transient and retried.
 */
@Injectable()
export class NotificationsService {
  private readonly logger = new Logger(NotificationsService.name);
  /** No SSRF guard: SLACK_WEBHOOK_URL is the operator's own. Redirects are never followed. */
  private readonly http = createHttpClient();
  private readonly webhookUrl?: string;
  private readonly timeoutMs: number;
  /** A 'sending' claim older than this was left by a worker that died mid-POST: it may be taken over. */
  private readonly leaseSeconds: number;

  private readonly skipped = new MicroBatcher<{ kind: string; sessionId: string }, void>((items) => this.recordSkippedBatch(items), {
    maxBatch: 256,
    maxConcurrent: 2,
    isolate: isDataError,
  });

  constructor(
    @InjectRepository(Notification) private readonly repo: Repository<Notification>,
    private readonly statements: SqlStatements,
    config: ConfigService<AppConfig, true>,
    private readonly metrics: NotificationMetrics,
  ) {
    const slack = config.get('slack', { infer: true });
    this.webhookUrl = slack.webhookUrl;
    this.timeoutMs = slack.timeoutMs;
    this.leaseSeconds = Math.ceil(slack.timeoutMs / 1000) + 30;
  }

  /** Called by the interview handler after the interview row is committed. */
  notifyInterviewCompleted(notice: InterviewCompletedNotice): Promise<NotifyOutcome> {
    return inSpan(SPAN.slack, {}, async (span) => {
      const outcome = await this.notifyOnce(notice);
      span?.setAttribute('slack.outcome', outcome);
      return outcome;
    });
  }

  private async notifyOnce(notice: InterviewCompletedNotice): Promise<NotifyOutcome> {
    const kind = INTERVIEW_COMPLETED_KIND;
    if (!this.webhookUrl) {
      await this.recordSkipped(kind, notice.sessionId);
      this.metrics.record('skipped');
      return 'skipped';
    }

    const claimed = await this.claim(kind, notice.sessionId);
    if (!claimed) {
      const current = await this.repo.findOneBy({ kind, sessionId: notice.sessionId });
      if (current?.status === 'sent') return 'already_sent';
      // 'sending': another worker holds the claim (or died holding it: the lease runs out).
      throw new RetryLaterError('slack notification is being sent by another worker', this.leaseSeconds * 1000);
    }

    let res: AxiosResponse<Readable>;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      res = await this.http.post<Readable>(this.webhookUrl, JSON.stringify(interviewCompletedMessage(notice)), {
        headers: { 'content-type': 'application/json' },
        signal,
      });
      await finished(res.data.resume()).catch(() => undefined);
    } catch (err) {
      // Not delivered as far as we know (a timeout is the one ambiguous case: docs/reliability.md, Slack notifications).
      const message = `slack: ${signal.aborted ? `no answer within ${this.timeoutMs} ms` : describe(err)}`;
      this.metrics.record('failed', seconds());
      await this.release(kind, notice.sessionId, 'failed', message);
      throw new Error(message, { cause: err });
    }

    if (res.status >= 200 && res.status < 300) {
      this.metrics.record('sent', seconds());
      await this.recordSent(kind, notice.sessionId, claimed === 'retaken' ? REPEAT_NOTE : null);
      return 'sent';
    }
    if (res.status === 429) {
      const waitMs = retryAfterMs((res.headers['retry-after'] as string | undefined) ?? null, DEFAULT_RETRY_AFTER_MS);
      const message = `slack: rate limited (429), retry after ${Math.ceil(waitMs / 1000)} s`;
      this.metrics.record('rate_limited', seconds());
      await this.release(kind, notice.sessionId, 'pending', message);
      throw new RetryLaterError(message, waitMs);
    }
    const message = `slack: answered ${res.status}`;
    this.metrics.record('failed', seconds());
    await this.release(kind, notice.sessionId, 'failed', message);
    if (res.status === 408 || res.status >= 500) throw new Error(message);
    // 4xx (a revoked or mistyped webhook URL, a refused payload): retrying the same POST cannot help.
    throw new PermanentFailure(message);
  }

  /**
   * Takes the row for posting: creates it, or takes over a 'pending'/'failed' one, a 'skipped' one
   * (Slack was configured since), or a 'sending' one whose lease ran out ('retaken': the worker that
   * held it died mid-POST, and Slack may already have the message). False when the row is 'sent' or
   * another worker holds a live claim.
   */
  private async claim(kind: string, sessionId: string): Promise<'claimed' | 'retaken' | false> {
    // `prev` reads the row as it was before this statement (same snapshot), to tell a takeover.
    const rows: Array<{ previous: string | null }> = await this.repo.query(
      `WITH prev AS (SELECT status FROM notifications WHERE kind = $1 AND session_id = $2)
       INSERT INTO notifications (kind, session_id, status, attempts, updated_at)
       VALUES ($1, $2, 'sending', 1, now())
       ON CONFLICT (kind, session_id) DO UPDATE
         SET status = 'sending', attempts = notifications.attempts + 1, updated_at = now()
         WHERE notifications.status IN ('pending', 'failed', 'skipped')
            OR (notifications.status = 'sending' AND notifications.updated_at < now() - make_interval(secs => $3))
       RETURNING (SELECT status FROM prev) AS previous`,
      [kind, sessionId, this.leaseSeconds],
    );
    if (rows.length === 0) return false;
    return rows[0].previous === 'sending' ? 'retaken' : 'claimed';
  }

  /**
   * Slack has the message: if this write were lost, the claim would expire and a retry would post
   * again. So it is retried for most of the claim's lease (a PostgreSQL restart takes seconds), and
   * only then does the job fail.
   */
  private async recordSent(kind: string, sessionId: string, note: string | null): Promise<void> {
    const deadline = Date.now() + (this.leaseSeconds - Math.ceil(this.timeoutMs / 1000) - 5) * 1000;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.repo.update({ kind, sessionId }, { status: 'sent', sentAt: () => 'now()', lastError: note, updatedAt: () => 'now()' });
        if (note) this.logger.warn(`notification ${kind} ${note}`);
        return;
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, Math.min(250 * attempt, 2000)));
      }
    }
  }

  private recordSkipped(kind: string, sessionId: string): Promise<void> {
    return this.skipped.submit({ kind, sessionId });
  }

  /**
   * Notifications recorded as skipped (no SLACK_WEBHOOK_URL), one statement for those of concurrent
   * events, in key order (concurrent batches lock shared rows in one order: no deadlock). A skipped
   * record is redone by a replay, so it commits without waiting for the flush.
   */
  private async recordSkippedBatch(items: Array<{ kind: string; sessionId: string }>): Promise<void[]> {
    const unique = [...new Map(items.map((i) => [`${i.kind}\u0000${i.sessionId}`, i])).values()].sort((a, b) =>
      a.kind === b.kind ? (a.sessionId < b.sessionId ? -1 : 1) : a.kind < b.kind ? -1 : 1,
    );
    const [sql, params] = this.repo
      .createQueryBuilder()
      .insert()
      .values(unique.map((i) => ({ kind: i.kind, sessionId: i.sessionId, status: 'skipped' as const })))
      .orUpdate(['status', 'updated_at'], ['kind', 'session_id'], {
        overwriteCondition: { where: `"Notification"."status" IN ('pending', 'failed')` },
      })
      .updateEntity(false)
      .getQueryAndParameters();
    await this.statements.query(null, sql, params, 'async');
    return items.map(() => undefined);
  }

  private async release(
    kind: string,
    sessionId: string,
    status: Extract<NotificationStatus, 'pending' | 'failed'>,
    error: string,
  ): Promise<void> {
    this.logger.warn(`notification ${kind} for an interview not sent: ${error}`);
    await this.repo.update({ kind, sessionId, status: 'sending' }, { status, lastError: storableText(error), updatedAt: () => 'now()' });
  }
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
