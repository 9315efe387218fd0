import { Injectable, Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { z } from 'zod';
import { AuditLog } from '../audit/audit-log.service.js';
import { errorText } from '../common/storable.js';
import { EventDetail, EventListFilter, eventSummary, InboxAdminRepository } from '../inbox/admin.repository.js';
import { InboxFilter } from '../inbox/event-filter.js';
import { jobIdOf, QueuedRow, requeueJobsOf } from '../inbox/job-ids.js';
import { InboxRecoveryRepository } from '../inbox/recovery.repository.js';
import { WebhookEventStatus } from '../inbox/webhook-event.entity.js';
import { QueueUnavailableError, WebhookQueue } from '../queue/webhook-queue.js';
import { encodeCursor } from './admin-cursor.js';

/** A page of the listing, newest first; `next_cursor` is null on the last page. */
export const eventPage = z.object({ items: z.array(eventSummary), next_cursor: z.string().nullable() });
export type EventPage = z.infer<typeof eventPage>;

export const bulkReplayResult = z.object({
  count: z.number().int().describe('Events reopened'),
  queued: z.boolean().describe('false: the queue was down; the sweeper enqueues them later'),
});
export type BulkReplayResult = z.infer<typeof bulkReplayResult>;

export type ReplayResult =
  | { outcome: 'replayed'; id: string; jobId: string; queued: boolean }
  | { outcome: 'not_found' }
  | { outcome: 'conflict'; status: WebhookEventStatus };

/** The dead-letter desk: reads the inbox and sends failed or ignored events back through processing. */
@Injectable()
export class AdminService {
  private readonly logger = new Logger(AdminService.name);

  constructor(
    private readonly inbox: InboxAdminRepository,
    private readonly recovery: InboxRecoveryRepository,
    private readonly queue: WebhookQueue,
    private readonly audit: AuditLog,
  ) {}

  async list(filter: EventListFilter): Promise<EventPage> {
    const rows = await this.inbox.list({ ...filter, limit: filter.limit + 1 });
    const page = rows.slice(0, filter.limit);
    const next = rows.length > filter.limit ? encodeCursor(page[page.length - 1].key) : null;
    return { items: page.map(({ key: _key, ...item }) => item), next_cursor: next };
  }

  /** One event with its payload: reading a payload is audited. */
  async get(id: string): Promise<EventDetail | null> {
    const event = await this.inbox.findById(id);
    if (event) await this.audit.record({ action: 'event.read', target: id });
    return event;
  }

  async replay(id: string): Promise<ReplayResult> {
    const result = await this.recovery.reopen(id);
    if (result === null) return { outcome: 'not_found' };
    if ('status' in result) return { outcome: 'conflict', status: result.status };
    const row = result.reopened;
    await this.audit.record({ action: 'event.replay', target: id });
    const queued = await this.enqueue([row]);
    return { outcome: 'replayed', id: row.id, jobId: jobIdOf(row), queued };
  }

  /**
   * The queue dashboard's Retry on the job of one event: a replay of that event when it is failed or
   * ignored (true), else nothing (false: the dashboard retries the job as it is).
   */
  async replayJob(job: Job): Promise<boolean> {
    const eventId = (job.data as { eventId?: unknown } | undefined)?.eventId;
    if (typeof eventId !== 'string' || !z.uuid().safeParse(eventId).success) return false;
    const result = await this.replay(eventId);
    if (result.outcome !== 'replayed') return false;
    this.logger.log(`event ${eventId} replayed from the queue dashboard (job ${job.id} retried), now job ${result.jobId}`);
    return true;
  }

  async replayMany(status: 'failed' | 'ignored', limit: number, event?: string): Promise<BulkReplayResult> {
    const rows = await this.recovery.reopenMany(status, limit, event);
    await this.audit.record({ action: 'events.replay', counts: { [status]: rows.length } });
    const queued = await this.enqueue(rows);
    return { count: rows.length, queued };
  }

  /** Bulk replay of the dead letters that match a filter (the events console's), oldest first, at most `limit`. */
  async replayDeadLetters(filter: InboxFilter, limit: number): Promise<BulkReplayResult> {
    const rows = await this.recovery.reopenDeadLetters(filter, limit);
    await this.audit.record({ action: 'events.replay', counts: { failed: rows.length } });
    const queued = await this.enqueue(rows);
    return { count: rows.length, queued };
  }

  /**
   * The rows are already back to 'received' (committed) when this runs: if the queue is down, the
   * worker's sweeper enqueues them later, so the replay is not lost.
   */
  private async enqueue(rows: QueuedRow[]): Promise<boolean> {
    const { jobs, done } = requeueJobsOf(rows, 'replay');
    try {
      await this.queue.enqueueEvents(jobs);
      done();
      return true;
    } catch (err) {
      done(err);
      if (!(err instanceof QueueUnavailableError)) throw err;
      this.logger.warn(`replay of ${rows.length} event(s) recorded but not queued (the sweeper will): ${errorText(err, 500)}`);
      return false;
    }
  }
}
