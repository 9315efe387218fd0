import { Column, Entity, PrimaryColumn } from 'typeorm';

export const WEBHOOK_EVENT_STATUSES = ['received', 'processing', 'processed', 'failed', 'ignored'] as const;
export type WebhookEventStatus = (typeof WEBHOOK_EVENT_STATUSES)[number];
export type SignatureScheme = 'signature' | 'timestamped';

/** The inbox: one row per idempotency key, the source of truth for every accepted delivery. */
@Entity({ name: 'webhook_events' })
export class WebhookEvent {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'idempotency_key', type: 'text', unique: true })
  idempotencyKey!: string;

  @Column({ type: 'text' })
  event!: string;

  @Column({ name: 'session_id', type: 'text' })
  sessionId!: string;

  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @Column({ name: 'signature_scheme', type: 'text' })
  signatureScheme!: SignatureScheme;

  @Column({ type: 'text', default: 'received' })
  status!: WebhookEventStatus;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  /** Times the stale-row sweeper put the row back through processing (bounded: see StaleEventsSweeper). */
  @Column({ type: 'integer', default: 0 })
  recoveries!: number;

  /** The batch job carrying the first attempt (NULL: the row's own job, id = row id). */
  @Column({ name: 'batch_job_id', type: 'text', nullable: true })
  batchJobId!: string | null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId!: string | null;

  @Column({ name: 'received_at', type: 'timestamptz' })
  receivedAt!: Date;

  @Column({ name: 'processed_at', type: 'timestamptz', nullable: true })
  processedAt!: Date | null;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
