import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { z } from 'zod';
import { flushIsolating, MicroBatcher } from '../common/micro-batcher.js';
import { isDataError } from '../common/pg-errors.js';
import { errorText } from '../common/storable.js';
import { InboxCandidate, InboxIngestRepository, InboxRow, RecordedDelivery } from '../inbox/ingest.repository.js';
import { batchJobIdsFor, ownJobOf } from '../inbox/job-ids.js';
import { EventJob, ProcessEventJobData } from '../queue/queue.constants.js';
import { normaliseEmail, SubjectHashes } from '../privacy/subject-hashes.js';
import { WebhookQueue } from '../queue/webhook-queue.js';
import { ATTR, markFailed, SPAN, type Span, SpanKind, startSpan, traceparentOf, tracingOn, withContext } from '../tracing/spans.js';

/** The answer to a delivery that was recorded: the webhook route's 200 body. */
export const ingestResult = z
  .object({
    status: z
      .enum(['accepted', 'duplicate', 'erased'])
      .describe(
        '`duplicate`: this idempotency key (`${event}:${session_id}`) was recorded before; `erased`: its session or email was erased (docs/privacy.md), so it is not stored',
      ),
    id: z.uuid().optional().describe('The inbox row (the first one, for a duplicate); none when erased'),
  })
  .meta({ id: 'IngestResult' });
export type IngestResult = z.infer<typeof ingestResult>;

export type IngestOutcome =
  | IngestResult
  | { status: 'unavailable'; reason: string }
  /** PostgreSQL refused this delivery's data (a gap in validation): answered 400, the others are unaffected. */
  | { status: 'unstorable'; reason: string };

const MAX_BATCH = 500;
// Two batches in flight lets one INSERT run while the previous batch is being enqueued.
const MAX_CONCURRENT_BATCHES = 2;

/**
 * The durable front door: records each delivery in the inbox, makes sure its job exists, and only
 * then reports it accepted. Concurrent deliveries share one INSERT and one bulk enqueue, and the
 * new events of one INSERT travel in batch jobs of up to BATCH_JOB_MAX_EVENTS (the rows record which,
 * in `batch_job_id`); a lone delivery gets a job of its own, whose id is the row id.
 *
 * No transaction is held across the enqueue (on PostgreSQL-backed queues that would deadlock, and
 * it would hold locks for a network round trip): the row commits first, then the job is added.
 * A crash in between leaves a 'received' row that the platform's retry or the sweeper enqueues.
 */
@Injectable()
export class WebhookIngestService implements OnApplicationShutdown {
  private readonly logger = new Logger(WebhookIngestService.name);
  private readonly batcher = new MicroBatcher<InboxCandidate, IngestOutcome>((items) => this.flush(items), {
    maxBatch: MAX_BATCH,
    maxConcurrent: MAX_CONCURRENT_BATCHES,
  });

  constructor(
    private readonly inbox: InboxIngestRepository,
    private readonly queue: WebhookQueue,
    private readonly hashes: SubjectHashes,
  ) {}

  accept(candidate: InboxCandidate): Promise<IngestOutcome> {
    return this.batcher.submit(candidate);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.batcher.onIdle();
  }

  /**
   * With tracing on, a batch's statements run in the trace of its first delivery (the batcher would
   * otherwise run them in the context of whichever delivery started its loop).
   */
  private flush(items: InboxCandidate[]): Promise<IngestOutcome[]> {
    return withContext(items[0]?.trace, () => this.flushBatch(items));
  }

  private async flushBatch(items: InboxCandidate[]): Promise<IngestOutcome[]> {
    // The same key twice in one batch: the first one stands for both.
    const firstIndex = new Map<string, number>();
    const unique: InboxCandidate[] = [];
    const slot = items.map((c) => {
      const key = c.event.idempotencyKey;
      let i = firstIndex.get(key);
      if (i === undefined) {
        i = unique.push(c) - 1;
        firstIndex.set(key, i);
      }
      return i;
    });

    // Several new events: their first attempts travel in batch jobs, whose ids the rows record.
    const batchJobIds = unique.length > 1 ? batchJobIdsFor(unique.length) : [];

    // The subjects erasure tombstones would name (the keys are read once PostgreSQL is ready).
    const keysReady = await this.hashes.ready().then(
      () => true,
      () => false,
    );
    if (!keysReady) return items.map(() => ({ status: 'unavailable', reason: 'database unavailable' }));
    for (const candidate of unique) candidate.subjects = this.subjectsOf(candidate);

    // One statement for the batch; a delivery whose data PostgreSQL refuses fails alone.
    const writeStarted = tracingOn() ? epochMs() : 0;
    const written = await flushIsolating(
      unique.map((candidate, i) => ({ candidate, batchJobId: batchJobIds[i] ?? null })),
      (part) =>
        this.inbox.recordBatch(
          part.map((p) => p.candidate),
          part.map((p) => p.batchJobId),
          this.hashes.primaryKeyId,
        ),
      isDataError,
    );
    const failed = written.filter((w) => !w.ok);
    if (failed.length > 0)
      this.logger.warn(`inbox write failed for ${failed.length} of ${unique.length} deliveries: ${errorText(failed[0].error, 500)}`);
    const recorded: Array<RecordedDelivery | undefined> = written.map((w) => (w.ok ? w.value : undefined));
    const rows: Array<InboxRow | undefined> = recorded.map((r) => (r && !('erased' in r) ? r : undefined));
    const enqueueSpans = tracingOn() ? traceInboxWrite(unique, written, rows, writeStarted) : undefined;

    // New rows, and earlier rows still 'received' (their job may have been lost): make sure a job
    // exists. A 'processing' row is in a job's hands; were that job lost, the sweeper reopens the
    // row. (A job added for it here would run the event a second time, beside the first.)
    const batches = new Map<string, ProcessEventJobData[]>();
    const ownJobs: EventJob[] = [];
    const carried: InboxRow[] = [];
    const pending: string[] = [];
    for (const r of rows) {
      if (!r || !(r.inserted || r.status === 'received')) continue;
      pending.push(r.id);
      if (!r.batchJobId || r.jobId) ownJobs.push(ownJobOf(r));
      else if (!r.inserted) carried.push(r);
      else {
        const events = batches.get(r.batchJobId);
        if (events) events.push(ownJobOf(r).data);
        else batches.set(r.batchJobId, [ownJobOf(r).data]);
      }
    }
    let queued = true;
    try {
      // A pending duplicate whose batch job will still run needs nothing; otherwise a job of its own.
      const live = await this.queue.liveJobIds(carried.map((r) => r.batchJobId!));
      ownJobs.push(...carried.filter((r) => !live.has(r.batchJobId!)).map(ownJobOf));
      await Promise.all([
        this.queue.enqueueBatches([...batches].map(([jobId, events]) => ({ jobId, events }))),
        this.queue.enqueueEvents(ownJobs),
      ]);
      for (const span of enqueueSpans ?? []) span?.end();
    } catch (err) {
      queued = false;
      for (const span of enqueueSpans ?? []) {
        markFailed(span, err);
        span?.end();
      }
      this.logger.warn(`enqueue failed for ${pending.length} events (rows kept as 'received'): ${errorText(err, 500)}`);
    }

    const pendingNotQueued = new Set(queued ? [] : pending);
    return items.map((_, idx) => {
      const uniqueIdx = slot[idx];
      const row = rows[uniqueIdx];
      if (recorded[uniqueIdx] && !row) return { status: 'erased' };
      if (!row) {
        const w = written[uniqueIdx] as { ok: false; error: unknown };
        return isDataError(w.error)
          ? { status: 'unstorable', reason: errorText(w.error, 300) }
          : { status: 'unavailable', reason: 'database unavailable' };
      }
      if (pendingNotQueued.has(row.id)) return { status: 'unavailable', reason: 'queue unavailable' };
      const firstInBatch = unique[uniqueIdx] === items[idx];
      return { status: row.inserted && firstInBatch ? 'accepted' : 'duplicate', id: row.id };
    });
  }

  /** The HMACs of the delivery's session id and email under every key in use; its session's under the primary key. */
  private subjectsOf(candidate: InboxCandidate): InboxCandidate['subjects'] {
    const sessions = this.hashes.all('session', candidate.event.sessionId);
    const email = candidate.event.payload.invitee_email;
    const emails = typeof email === 'string' ? this.hashes.all('email', normaliseEmail(email)) : [];
    return { hashes: [...sessions, ...emails], sessionHash: sessions[0] };
  }
}

function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * With tracing on: an `inbox.write` span in each delivery's trace for the INSERT that recorded it
 * (one statement for the whole batch: the spans share its times), and a `queue.enqueue` span for each
 * row that gets a job now, whose traceparent the job carries (set on the row here, read by ownJobOf).
 * Returns the enqueue spans, ended by the caller once the queue answered.
 */
function traceInboxWrite(
  unique: InboxCandidate[],
  written: Array<{ ok: boolean; error?: unknown }>,
  rows: Array<InboxRow | undefined>,
  started: number,
): Array<Span | undefined> {
  const ended = epochMs();
  const enqueueSpans: Array<Span | undefined> = [];
  unique.forEach((candidate, i) => {
    const row = rows[i];
    const attributes = {
      [ATTR.eventType]: candidate.event.event,
      [ATTR.sessionId]: candidate.event.sessionId,
      [ATTR.batchSize]: unique.length,
      ...(candidate.requestId ? { [ATTR.requestId]: candidate.requestId } : {}),
      ...(row ? { [ATTR.eventId]: row.id, 'inbox.inserted': row.inserted } : {}),
    };
    const write = startSpan(SPAN.inboxWrite, attributes, { parent: candidate.trace, startTime: started });
    if (!written[i].ok) markFailed(write, written[i].error);
    else if (!row) write?.setAttribute(ATTR.outcome, 'erased');
    write?.end(ended);
    if (row && (row.inserted || row.status === 'received')) {
      const span = startSpan(
        SPAN.enqueue,
        { [ATTR.eventId]: row.id, [ATTR.eventType]: candidate.event.event, [ATTR.jobId]: row.jobId ?? row.batchJobId ?? row.id },
        { parent: candidate.trace, kind: SpanKind.PRODUCER },
      );
      row.traceparent = traceparentOf(span);
      enqueueSpans.push(span);
    }
  });
  return enqueueSpans;
}
