import { Column, Entity, PrimaryColumn } from 'typeorm';
import { NotPersonalData, PersonalData } from '../events/personal-data.js';

export const WEBHOOK_EVENT_STATUSES = ['received', 'processing', 'processed', 'failed', 'ignored'] as const;
export type WebhookEventStatus = (typeof WEBHOOK_EVENT_STATUSES)[number];
export type SignatureScheme = 'signature' | 'timestamped';

/**
 * SQL conditions for a row not finished, through `webhook_events_open` (migrations
 * 1796169600000-open-events and 1796428800000-job-carriers), each read through a partial index of its
 * own: UNFINISHED_SQL for 'received' and 'processing' rows, DEAD_LETTER_SQL for 'failed' ones. So
 * the sweeper's cost follows the rows in flight, never the dead letters, and neither follows the
 * inbox's size. Written `= ANY(ARRAY(…))`, not `IN (SELECT …)`: the ids are read once and the rows
 * fetched by primary key. With `IN`, once a backlog puts a few thousand rows in the open table, the
 * planner prefers a hash join over a scan of the whole inbox (150 ms at 300,000 rows).
 */
export const UNFINISHED_SQL = 'id = ANY(ARRAY(SELECT id FROM webhook_events_open WHERE NOT failed))';
export const DEAD_LETTER_SQL = 'id = ANY(ARRAY(SELECT id FROM webhook_events_open WHERE failed))';

/** The inbox: one row per idempotency key, the source of truth for every accepted delivery. */
@Entity({ name: 'webhook_events' })
export class WebhookEvent {
  @PrimaryColumn('uuid')
  id!: string;

  @PersonalData() // holds the session id
  @Column({ name: 'idempotency_key', type: 'text', unique: true })
  idempotencyKey!: string;

  @NotPersonalData('an event type')
  @Column({ type: 'text' })
  event!: string;

  @PersonalData()
  @Column({ name: 'session_id', type: 'text' })
  sessionId!: string;

  @PersonalData()
  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @NotPersonalData('a scheme name')
  @Column({ name: 'signature_scheme', type: 'text' })
  signatureScheme!: SignatureScheme;

  @NotPersonalData('a state')
  @Column({ type: 'text', default: 'received' })
  status!: WebhookEventStatus;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @NotPersonalData('what the service writes about a failure, which never quotes personal data')
  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  /** Times the stale-row sweeper put the row back through processing (bounded: see StaleEventsSweeper). */
  @Column({ type: 'integer', default: 0 })
  recoveries!: number;

  /** The batch job carrying the first attempt (NULL: the row's own job, id = row id). */
  @NotPersonalData('a job id')
  @Column({ name: 'batch_job_id', type: 'text', nullable: true })
  batchJobId!: string | null;

  /**
   * The job the row was last reopened under (a replay, the sweeper); NULL: its batch job or its own
   * job under its row id. Only that job may claim the row (src/inbox/job-ids.ts).
   */
  @NotPersonalData('a job id')
  @Column({ name: 'job_id', type: 'text', nullable: true })
  jobId!: string | null;

  @NotPersonalData('a request id')
  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId!: string | null;

  /** The trace of the delivery that recorded the row (tracing on and the trace sampled), else NULL. */
  @NotPersonalData('a trace id')
  @Column({ name: 'trace_id', type: 'text', nullable: true })
  traceId!: string | null;

  @Column({ name: 'received_at', type: 'timestamptz' })
  receivedAt!: Date;

  @Column({ name: 'processed_at', type: 'timestamptz', nullable: true })
  processedAt!: Date | null;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  /** When retention dropped the payload (INBOX_PAYLOAD_RETENTION_DAYS): only `event` and `session_id` are left. */
  @Column({ name: 'payload_expired_at', type: 'timestamptz', nullable: true })
  payloadExpiredAt!: Date | null;
}
