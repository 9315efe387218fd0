import { Injectable, Logger } from '@nestjs/common';
import { QueueUnavailableError, WebhookQueueService } from '../queue/webhook-queue.service.js';
import { WebhookEvent, WebhookEventStatus } from '../webhooks/webhook-event.entity.js';
import { EventListFilter, EventSummary, jobIdOf, RequeueCandidate, WebhookEventsService } from '../webhooks/webhook-events.service.js';
import { encodeCursor } from './admin-cursor.js';

/** The listing's fields plus what only the detail view shows. */
export interface EventDetail extends EventSummary {
  idempotency_key: string;
  signature_scheme: WebhookEvent['signatureScheme'];
  payload: Record<string, unknown>;
}

export type ReplayResult =
  | { outcome: 'replayed'; id: string; jobId: string; queued: boolean }
  | { outcome: 'not_found' }
  | { outcome: 'conflict'; status: WebhookEventStatus };

/** The dead-letter desk: reads the inbox and sends failed or ignored events back through processing. */
@Injectable()
export class AdminService {
  private readonly logger = new Logger(AdminService.name);

  constructor(
    private readonly inbox: WebhookEventsService,
    private readonly queue: WebhookQueueService,
  ) {}

  async list(filter: EventListFilter): Promise<{ items: EventSummary[]; next_cursor: string | null }> {
    const rows = await this.inbox.list({ ...filter, limit: filter.limit + 1 });
    const page = rows.slice(0, filter.limit);
    const next = rows.length > filter.limit ? encodeCursor(page[page.length - 1].key) : null;
    return { items: page.map(({ key: _key, ...item }) => item), next_cursor: next };
  }

  async get(id: string): Promise<EventDetail | null> {
    const e = await this.inbox.findById(id);
    if (!e) return null;
    return {
      id: e.id,
      event: e.event,
      session_id: e.sessionId,
      status: e.status,
      attempts: e.attempts,
      last_error: e.lastError,
      request_id: e.requestId,
      received_at: e.receivedAt,
      processed_at: e.processedAt,
      updated_at: e.updatedAt,
      idempotency_key: e.idempotencyKey,
      signature_scheme: e.signatureScheme,
      payload: e.payload,
    };
  }

  async replay(id: string): Promise<ReplayResult> {
    const result = await this.inbox.reopen(id);
    if (result === null) return { outcome: 'not_found' };
    if ('status' in result) return { outcome: 'conflict', status: result.status };
    const row = result.reopened;
    const queued = await this.enqueue([row]);
    return { outcome: 'replayed', id: row.id, jobId: jobIdOf(row), queued };
  }

  async replayMany(status: 'failed' | 'ignored', limit: number, event?: string): Promise<{ count: number; queued: boolean }> {
    const rows = await this.inbox.reopenMany(status, limit, event);
    const queued = await this.enqueue(rows);
    return { count: rows.length, queued };
  }

  /**
   * The row is already back to 'received' (committed) when this runs: if the queue is down, the
   * worker's sweeper enqueues it later under the same job id, so the replay is not lost.
   */
  private async enqueue(rows: RequeueCandidate[]): Promise<boolean> {
    if (rows.length === 0) return true;
    // One UPDATE gives every row the same updated_at, so one suffix; group anyway to be safe.
    const bySuffix = new Map<string | undefined, RequeueCandidate[]>();
    for (const r of rows) bySuffix.set(r.jobSuffix, [...(bySuffix.get(r.jobSuffix) ?? []), r]);
    try {
      for (const [suffix, group] of bySuffix) {
        await this.queue.enqueue(group.map((r) => ({ eventId: r.id, event: r.event, requestId: r.requestId })), suffix);
      }
      return true;
    } catch (err) {
      if (!(err instanceof QueueUnavailableError)) throw err;
      this.logger.warn(`replay of ${rows.length} event(s) recorded but not queued (the sweeper will): ${err.message}`);
      return false;
    }
  }
}
