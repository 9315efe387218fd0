import { Injectable } from '@nestjs/common';
import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { SqlStatements } from '../database/sql-statements.js';
import { NormalisedEvent } from '../events/delivery.js';
import { JOB_ID_SQL, QueuedRow } from './job-ids.js';
import { SignatureScheme, WebhookEventStatus } from './webhook-event.entity.js';

export interface InboxCandidate {
  event: NormalisedEvent;
  scheme: SignatureScheme;
  requestId?: string;
}

export interface InboxRow extends QueuedRow {
  idempotencyKey: string;
  status: WebhookEventStatus;
  /** Inserted by this statement; false: the key was already recorded (a duplicate). */
  inserted: boolean;
}

// uuid's own source asks the OS for 16 random bytes per id (5 µs an id on Node 24 here); taken from
// a pool refilled 256 ids at a time, an id costs 0.9 µs. (With a source of its own, v7 orders ids
// by the millisecond only, not within one: enough to append at the right edge of the indexes.)
const RANDOM_POOL = new Uint8Array(16 * 256);
let poolOffset = RANDOM_POOL.length;

function pooledRandom16(): Uint8Array {
  if (poolOffset === RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    poolOffset = 0;
  }
  return RANDOM_POOL.subarray(poolOffset, (poolOffset += 16));
}

/** The inbox at the front door: records deliveries, first writer wins per idempotency key. */
@Injectable()
export class InboxIngestRepository {
  constructor(private readonly statements: SqlStatements) {}

  /**
   * Records a batch of deliveries in one statement (one commit). Returns one row per candidate, in
   * order: inserted now, or the row that already held the key. Candidates must have distinct keys.
   * `batchJobIds[i]`, when given, is recorded on the row of candidate i as the batch job that will carry it.
   *
   * Rows go in in key order: two batches in flight that share keys (a retried delivery, duplicates
   * racing) then wait on each other's keys in the same order, one after the other, never in a
   * cycle. In arrival order, each could hold a key the other waits on: PostgreSQL's deadlock
   * detector would abort one of them, and every delivery in it would be answered 503.
   */
  async recordBatch(candidates: InboxCandidate[], batchJobIds: Array<string | null> = []): Promise<InboxRow[]> {
    const rows = candidates.map((c, i) => ({
      // Time-ordered (UUIDv7): new ids land at the right edge of the two primary keys (the inbox's and
      // webhook_events_open's) instead of on random pages, 20 % less PostgreSQL CPU per row than v4.
      id: uuidv7({ rng: pooledRandom16 }),
      idempotency_key: c.event.idempotencyKey,
      event: c.event.event,
      session_id: c.event.sessionId,
      signature_scheme: c.scheme,
      request_id: c.requestId ?? null,
      batch_job_id: batchJobIds[i] ?? null,
      envelope: c.event.source?.envelope ?? false,
    }));
    const { rows: inserted } = await this.statements.query<{ id: string; idempotency_key: string; batch_job_id: string | null }>(
      'inbox-insert',
      // The payload is the delivery's own JSON text (jsonb keeps its numbers exactly), normalised as
      // validation normalises it: the envelope's `data`, with `event` and `session_id` as validated.
      `INSERT INTO webhook_events (id, idempotency_key, event, session_id, payload, signature_scheme, request_id, batch_job_id)
       SELECT id, idempotency_key, event, session_id,
              CASE WHEN envelope THEN payload -> 'data' ELSE payload END || jsonb_build_object('event', event, 'session_id', session_id),
              signature_scheme, request_id, batch_job_id
       FROM jsonb_to_recordset($1::jsonb)
         AS x(id uuid, idempotency_key text, event text, session_id text, payload jsonb, signature_scheme text,
              request_id text, batch_job_id text, envelope boolean)
       ORDER BY idempotency_key
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id, idempotency_key, batch_job_id`,
      [batchJson(rows, candidates)],
    );
    const byKey = new Map<string, Omit<InboxRow, 'event' | 'requestId'>>();
    for (const r of inserted) {
      byKey.set(r.idempotency_key, {
        id: r.id,
        idempotencyKey: r.idempotency_key,
        status: 'received',
        inserted: true,
        batchJobId: r.batch_job_id ?? undefined,
      });
    }
    const missing = rows.filter((r) => !byKey.has(r.idempotency_key)).map((r) => r.idempotency_key);
    if (missing.length > 0) {
      // A separate statement (fresh snapshot) also sees rows that a concurrent batch committed
      // while our INSERT waited on their keys. Unnamed: a plan kept from when the inbox was small
      // would read all of it for every duplicate (SqlStatements).
      const { rows: existing } = await this.statements.query<{
        id: string;
        idempotency_key: string;
        status: WebhookEventStatus;
        batch_job_id: string | null;
        job_id: string | null;
      }>(
        null,
        `SELECT id, idempotency_key, status, batch_job_id, ${JOB_ID_SQL} FROM webhook_events WHERE idempotency_key = ANY($1::text[])`,
        [missing],
      );
      for (const r of existing) {
        byKey.set(r.idempotency_key, {
          id: r.id,
          idempotencyKey: r.idempotency_key,
          status: r.status,
          inserted: false,
          batchJobId: r.batch_job_id ?? undefined,
          jobId: r.job_id ?? undefined,
        });
      }
    }
    return candidates.map((c) => {
      const row = byKey.get(c.event.idempotencyKey);
      if (!row) throw new Error(`inbox row for ${c.event.idempotencyKey} neither inserted nor found`);
      return { ...row, event: c.event.event, requestId: c.requestId };
    });
  }
}

/**
 * The batch as one JSON array, each row with its delivery's JSON text spliced in as `payload`
 * (already parsed and validated, so it is one JSON value), else the normalised payload serialised.
 */
function batchJson(rows: object[], candidates: InboxCandidate[]): string {
  const parts = rows.map((row, i) => {
    const fields = JSON.stringify(row);
    const payload = candidates[i].event.source?.text ?? JSON.stringify(candidates[i].event.payload);
    return `${fields.slice(0, -1)},"payload":${payload}}`;
  });
  return `[${parts.join(',')}]`;
}
