import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, In, Repository } from 'typeorm';
import { NormalisedEvent } from './webhook-payload.js';
import { SignatureScheme, WebhookEvent, WebhookEventStatus } from './webhook-event.entity.js';

export interface InboxCandidate {
  event: NormalisedEvent;
  scheme: SignatureScheme;
  requestId?: string;
}

export interface InboxRow {
  id: string;
  idempotencyKey: string;
  event: string;
  status: WebhookEventStatus;
  inserted: boolean;
}

/** The inbox table and every write to it. Nothing outside WebhooksModule touches the repository. */
@Injectable()
export class WebhookEventsService {
  constructor(
    @InjectRepository(WebhookEvent) private readonly repo: Repository<WebhookEvent>,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /**
   * Records a batch of deliveries in one statement (one commit), first writer wins per key.
   * Returns one row per candidate, in order: inserted now, or the row that already held the key.
   * Candidates must have distinct keys.
   */
  async recordBatch(candidates: InboxCandidate[]): Promise<InboxRow[]> {
    const rows = candidates.map((c) => ({
      id: randomUUID(),
      idempotency_key: c.event.idempotencyKey,
      event: c.event.event,
      session_id: c.event.sessionId,
      payload: c.event.payload,
      signature_scheme: c.scheme,
      request_id: c.requestId ?? null,
    }));
    const inserted: Array<{ id: string; idempotency_key: string }> = await this.dataSource.query(
      `INSERT INTO webhook_events (id, idempotency_key, event, session_id, payload, signature_scheme, request_id)
       SELECT id, idempotency_key, event, session_id, payload, signature_scheme, request_id
       FROM jsonb_to_recordset($1::jsonb)
         AS x(id uuid, idempotency_key text, event text, session_id text, payload jsonb, signature_scheme text, request_id text)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id, idempotency_key`,
      [JSON.stringify(rows)],
    );
    const byKey = new Map<string, InboxRow>();
    for (const r of inserted) {
      byKey.set(r.idempotency_key, { id: r.id, idempotencyKey: r.idempotency_key, event: '', status: 'received', inserted: true });
    }
    const missing = rows.filter((r) => !byKey.has(r.idempotency_key)).map((r) => r.idempotency_key);
    if (missing.length > 0) {
      // A separate statement (fresh snapshot) also sees rows that a concurrent batch committed
      // while our INSERT waited on their keys.
      const existing: Array<{ id: string; idempotency_key: string; status: WebhookEventStatus }> = await this.dataSource.query(
        `SELECT id, idempotency_key, status FROM webhook_events WHERE idempotency_key = ANY($1::text[])`,
        [missing],
      );
      for (const r of existing) {
        byKey.set(r.idempotency_key, { id: r.id, idempotencyKey: r.idempotency_key, event: '', status: r.status, inserted: false });
      }
    }
    return candidates.map((c) => {
      const row = byKey.get(c.event.idempotencyKey);
      if (!row) throw new Error(`inbox row for ${c.event.idempotencyKey} neither inserted nor found`);
      return { ...row, event: c.event.event };
    });
  }

  findById(id: string): Promise<WebhookEvent | null> {
    return this.repo.findOneBy({ id });
  }

  /** Claims a row for processing; returns null when it is already in a final state. */
  async markProcessing(id: string): Promise<WebhookEvent | null> {
    const [rows]: [Array<Record<string, unknown>>, number] = await this.dataSource.query(
      `UPDATE webhook_events SET status = 'processing', attempts = attempts + 1, updated_at = now()
       WHERE id = $1 AND status IN ('received', 'processing') RETURNING *`,
      [id],
    );
    return rows.length > 0 ? this.repo.create(mapRaw(rows[0])) : null;
  }

  async markProcessed(id: string, status: 'processed' | 'ignored' = 'processed'): Promise<void> {
    await this.repo.update({ id }, { status, processedAt: () => 'now()', lastError: null, updatedAt: () => 'now()' });
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.repo.update({ id }, { status: 'failed', lastError: error.slice(0, 2000), updatedAt: () => 'now()' });
  }

  async recordAttemptError(id: string, error: string): Promise<void> {
    await this.repo.update({ id }, { lastError: error.slice(0, 2000), updatedAt: () => 'now()' });
  }

  /** Rows stuck in 'received' (a crash between commit and enqueue): candidates for re-enqueueing. */
  findStaleReceived(olderThanSeconds: number, limit: number): Promise<Array<Pick<WebhookEvent, 'id' | 'event' | 'requestId'>>> {
    return this.repo
      .createQueryBuilder('e')
      .select(['e.id', 'e.event', 'e.requestId'])
      .where(`e.status = 'received' AND e.received_at < now() - make_interval(secs => :secs)`, { secs: olderThanSeconds })
      .orderBy('e.received_at', 'ASC')
      .limit(limit)
      .getMany();
  }

  /** Puts a failed or ignored row back to 'received' so it can go through processing again. */
  async reopen(id: string): Promise<boolean> {
    const result = await this.repo.update(
      { id, status: In(['failed', 'ignored']) as unknown as WebhookEventStatus },
      { status: 'received', lastError: null, processedAt: null, attempts: 0, updatedAt: () => 'now()' },
    );
    return (result.affected ?? 0) > 0;
  }
}

function mapRaw(raw: Record<string, unknown>): Partial<WebhookEvent> {
  return {
    id: raw.id as string,
    idempotencyKey: raw.idempotency_key as string,
    event: raw.event as string,
    sessionId: raw.session_id as string,
    payload: raw.payload as Record<string, unknown>,
    signatureScheme: raw.signature_scheme as WebhookEvent['signatureScheme'],
    status: raw.status as WebhookEventStatus,
    attempts: raw.attempts as number,
    lastError: (raw.last_error as string | null) ?? null,
    requestId: (raw.request_id as string | null) ?? null,
    receivedAt: raw.received_at as Date,
    processedAt: (raw.processed_at as Date | null) ?? null,
    updatedAt: raw.updated_at as Date,
  };
}
