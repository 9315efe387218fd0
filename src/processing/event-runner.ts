import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import pLimit, { LimitFunction } from 'p-limit';
import { errorText } from '../common/storable.js';
import { AppConfig } from '../config/configuration.js';
import { ClaimedRow, InboxProcessingRepository } from '../inbox/processing.repository.js';
import { ErasureService } from '../privacy/erasure.service.js';
import { annotateActive, ATTR, markFailed, SPAN, startSpan, tracingOn } from '../tracing/spans.js';
import { EventDispatcher } from './event-dispatcher.js';
import { FailureDecision } from './failure-policy.js';
import { AttemptOutcome, EventJobData } from './job-data.js';

/** Error text in a log line is cut shorter than on the row (it may quote a remote host's answer). */
const LOGGED_ERROR_CHARS = 500;

/**
 * One attempt at one event, whichever job carries it: claims the inbox row, dispatches it, records
 * the outcome; and records a failed attempt. At most WORKER_CONCURRENCY events run at once in the
 * process (`limit`), across batch jobs and jobs of their own.
 */
@Injectable()
export class EventRunner {
  private readonly logger = new Logger('WebhookEventsProcessor');
  readonly limit: LimitFunction;

  constructor(
    private readonly inbox: InboxProcessingRepository,
    private readonly erasures: ErasureService,
    private readonly dispatcher: EventDispatcher,
    config: ConfigService<AppConfig, true>,
  ) {
    this.limit = pLimit(config.get('queue', { infer: true }).concurrency);
  }

  /**
   * Claims the row for the job `jobId`, dispatches it and records the outcome; 'skipped' when the row
   * is already final, or another job carries it now (a reopen gave it a job of its own). Throws the
   * handler's error (the row stays 'processing'); the caller applies the failure policy.
   */
  async attempt(eventId: string, jobId: string, requestId?: string): Promise<AttemptOutcome> {
    // A database error here is transient: the job is retried, and the row stays as it was.
    const row = await this.inbox.claim(eventId, jobId);
    if (!row) return 'skipped';
    let outcome: 'processed' | 'ignored';
    try {
      outcome = await this.dispatcher.dispatch(row, requestId);
    } catch (err) {
      if (!(await this.inbox.exists(eventId).catch(() => true))) await this.eraseWritten(row);
      throw err;
    }
    if (await this.inbox.complete(eventId, outcome)) {
      recordOutcome({ eventId, event: row.event }, outcome);
      return outcome;
    }
    await this.eraseWritten(row);
    return 'skipped';
  }

  /**
   * The row is gone after its handler ran: its subject was erased meanwhile. The erasure deleted the
   * inbox row before anything else, so whatever the handler wrote after the erasure's own deletes is
   * erased here (ErasureService: the handler's write, then this check).
   */
  private async eraseWritten(row: ClaimedRow): Promise<void> {
    const counts = await this.erasures.eraseEverywhere({ sessionIds: [row.sessionId] });
    this.logger.warn(`event ${row.id} was erased while it ran; erased what it wrote: ${JSON.stringify(counts)}`);
  }

  /**
   * Logs a failed attempt and records it on the inbox row: a dead letter ends 'failed' (throws if
   * PostgreSQL is down), any other failure leaves its error in last_error.
   */
  async recordFailure(data: EventJobData, decision: FailureDecision, err: Error, retryNote: string): Promise<void> {
    const what = `event ${data.eventId} (${data.event})`;
    recordOutcome(data, decision.kind === 'dead-letter' ? 'dead_letter' : decision.kind === 'defer' ? 'deferred' : 'retry', err);
    if (decision.kind === 'dead-letter') {
      this.logger.warn(`${what} failed for good: ${errorText(err, LOGGED_ERROR_CHARS)}`);
      await this.inbox.fail(data.eventId, errorText(err));
      return;
    }
    const note = decision.kind === 'defer' ? `deferred by ${decision.delayMs} ms` : retryNote;
    this.logger.warn(`${what} ${note}: ${errorText(err, LOGGED_ERROR_CHARS)}`);
    await this.inbox.noteAttemptError(data.eventId, errorText(err)).catch(() => undefined);
  }
}

/** What one attempt came to, as its `event.outcome` span says. */
export type TracedOutcome = AttemptOutcome | 'retry' | 'deferred' | 'dead_letter';

/**
 * The `event.outcome` span of an attempt (tracing on only): a dead letter's is an error, with a
 * `dead_letter` event and attribute, and the attempt's own span says `dead_letter` too.
 */
export function recordOutcome(data: Pick<EventJobData, 'eventId' | 'event'>, outcome: TracedOutcome, err?: Error): void {
  if (!tracingOn()) return;
  const span = startSpan(SPAN.outcome, { [ATTR.eventId]: data.eventId, [ATTR.eventType]: data.event, [ATTR.outcome]: outcome });
  annotateActive({ [ATTR.outcome]: outcome });
  if (outcome === 'dead_letter') {
    annotateActive({ [ATTR.deadLetter]: true });
    span?.setAttribute(ATTR.deadLetter, true);
    span?.addEvent('dead_letter');
    markFailed(span, err);
  }
  span?.end();
}
