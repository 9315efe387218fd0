import { Injectable } from '@nestjs/common';
import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { SqlStatements } from '../database/sql-statements.js';
import { type Context, sampledTraceIdIn } from '../tracing/spans.js';
import { NormalisedEvent } from '../events/delivery.js';
import { JOB_ID_SQL, QueuedRow } from './job-ids.js';
import { SignatureScheme, WebhookEventStatus } from './webhook-event.entity.js';

export interface InboxCandidate {
  event: NormalisedEvent;
  scheme: SignatureScheme;
  requestId?: string;
  /** The delivery's trace context (tracing on only): its row records the trace id when sampled. */
  trace?: Context;
  /**
   * The delivery's subjects as erasure tombstones hold them (privacy/subject-hashes.ts): the HMACs of
   * its session id and of its email, if any, under every key in use. `sessionHash`: its session's
   * under the key new tombstones are made with.
   */
  subjects?: { hashes: string[]; sessionHash: string };
}

export interface InboxRow extends QueuedRow {
  idempotencyKey: string;
  status: WebhookEventStatus;
  /** Inserted by this statement; false: the key was already recorded (a duplicate). */
  inserted: boolean;
}

/** What became of a candidate: its row, or nothing because its subject was erased. */
export type RecordedDelivery = InboxRow | { erased: true };

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
   * Records a batch of deliveries in one statement (one commit). Returns one entry per candidate, in
   * order: its row, inserted now or already holding the key, or `erased` when a tombstone names one of
   * its subjects. Candidates must have distinct keys. `batchJobIds[i]`, when given, is recorded on the
   * row of candidate i as the batch job that will carry it. `keyId`: the key of `sessionHash`.
   *
   * An erased delivery is not stored; if its email was erased, its session is tombstoned too (a later
   * delivery of that session, which may carry no email, is erased as well). The INSERT skips erased
   * candidates itself; telling them apart from duplicates, and tombstoning their sessions, is left to
   * the follow-up statement that only candidates the INSERT did not return need: folded into the
   * INSERT, that work cost every new row 12-15 µs of PostgreSQL time (docs/benchmarks.md).
   *
   * Rows go in in key order: two batches in flight that share keys (a retried delivery, duplicates
   * racing) then wait on each other's keys in the same order, one after the other, never in a
   * cycle. In arrival order, each could hold a key the other waits on: PostgreSQL's deadlock
   * detector would abort one of them, and every delivery in it would be answered 503.
   */
  async recordBatch(candidates: InboxCandidate[], batchJobIds: Array<string | null> = [], keyId = ''): Promise<RecordedDelivery[]> {
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
      subjects: c.subjects?.hashes ?? [],
      // Only with tracing on (a missing key reads as NULL).
      ...(c.trace ? { trace_id: sampledTraceIdIn(c.trace) ?? null } : {}),
    }));
    const { rows: inserted } = await this.statements.query<{ id: string; idempotency_key: string; batch_job_id: string | null }>(
      'inbox-insert',
      // The payload is the delivery's own JSON text (jsonb keeps its numbers exactly), normalised as
      // validation normalises it: the envelope's `data`, with `event` and `session_id` as validated.
      `INSERT INTO webhook_events (id, idempotency_key, event, session_id, payload, signature_scheme, request_id, batch_job_id, trace_id)
       SELECT id, idempotency_key, event, session_id,
              CASE WHEN envelope THEN payload -> 'data' ELSE payload END || jsonb_build_object('event', event, 'session_id', session_id),
              signature_scheme, request_id, batch_job_id, trace_id
       FROM jsonb_to_recordset($1::jsonb)
         AS x(id uuid, idempotency_key text, event text, session_id text, payload jsonb, signature_scheme text,
              request_id text, batch_job_id text, envelope boolean, subjects text[], trace_id text)
       WHERE NOT EXISTS (SELECT 1 FROM erasure_tombstones t WHERE t.subject_hash = ANY(x.subjects))
       ORDER BY idempotency_key
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id, idempotency_key, batch_job_id`,
      [batchJson(rows, candidates)],
    );
    const byKey = new Map<string, Omit<InboxRow, 'event' | 'requestId'> | 'erased'>();
    for (const r of inserted) {
      byKey.set(r.idempotency_key, {
        id: r.id,
        idempotencyKey: r.idempotency_key,
        status: 'received',
        inserted: true,
        batchJobId: r.batch_job_id ?? undefined,
      });
    }
    const missing = candidates.filter((c) => !byKey.has(c.event.idempotencyKey));
    if (missing.length > 0) await this.resolveMissing(missing, keyId, byKey);
    return candidates.map((c) => {
      const row = byKey.get(c.event.idempotencyKey);
      if (row === 'erased') return { erased: true };
      if (!row) throw new Error(`inbox row for ${c.event.idempotencyKey} neither inserted nor found`);
      return { ...row, event: c.event.event, requestId: c.requestId };
    });
  }

  /**
   * What became of the candidates the INSERT did not return: erased (a tombstone names a subject:
   * their sessions get tombstones of their own), or already held by a row. A separate statement
   * (fresh snapshot) also sees rows that a concurrent batch committed while the INSERT waited on their
   * keys, and tombstones an erasure committed meanwhile. Unnamed: a plan kept from when the inbox was
   * small would scan it.
   */
  private async resolveMissing(
    missing: InboxCandidate[],
    keyId: string,
    byKey: Map<string, Omit<InboxRow, 'event' | 'requestId'> | 'erased'>,
  ): Promise<void> {
    const asked = missing.map((c) => ({
      idempotency_key: c.event.idempotencyKey,
      subjects: c.subjects?.hashes ?? [],
      session_hash: c.subjects?.sessionHash ?? null,
    }));
    const { rows: found } = await this.statements.query<{
      id: string | null;
      idempotency_key: string;
      status: WebhookEventStatus | null;
      batch_job_id: string | null;
      job_id: string | null;
      erased: boolean;
    }>(
      null,
      `WITH m AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS m(idempotency_key text, subjects text[], session_hash text)),
       erased AS MATERIALIZED (
         SELECT m.idempotency_key, m.session_hash, t.erasure_id FROM m
         CROSS JOIN LATERAL (SELECT erasure_id FROM erasure_tombstones WHERE subject_hash = ANY(m.subjects) LIMIT 1) t),
       tombstoned AS (
         INSERT INTO erasure_tombstones (subject_hash, key_id, erasure_id)
         SELECT session_hash, $2, erasure_id FROM erased WHERE session_hash IS NOT NULL ORDER BY session_hash
         ON CONFLICT (subject_hash) DO NOTHING)
       SELECT NULL AS id, idempotency_key, NULL AS status, NULL AS batch_job_id, NULL AS job_id, true AS erased FROM erased
       UNION ALL
       SELECT id, idempotency_key, status, batch_job_id, ${JOB_ID_SQL}, false FROM webhook_events
       WHERE idempotency_key IN (SELECT idempotency_key FROM m EXCEPT SELECT idempotency_key FROM erased)`,
      [JSON.stringify(asked), keyId],
    );
    for (const r of found) {
      if (r.erased) {
        byKey.set(r.idempotency_key, 'erased');
        continue;
      }
      byKey.set(r.idempotency_key, {
        id: r.id!,
        idempotencyKey: r.idempotency_key,
        status: r.status!,
        inserted: false,
        batchJobId: r.batch_job_id ?? undefined,
        jobId: r.job_id ?? undefined,
      });
    }
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
