import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';
import { NotPersonalData, PersonalData } from '../events/personal-data.js';

export type NotificationStatus = 'pending' | 'sending' | 'sent' | 'skipped' | 'failed';

/**
 * `last_error` of a notification posted by a worker that took over an expired claim: the worker that
 * held it died mid-POST, and Slack (which has no idempotency key) may have shown the message twice.
 */
export const REPEAT_NOTE = 'sent again after an interrupted attempt: this message may have been posted twice';

/** One row per (kind, session): the record that makes a retried or replayed job never post twice. */
@Entity({ name: 'notifications' })
@Unique('uq_notifications_kind_session_id', ['kind', 'sessionId'])
export class Notification {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @NotPersonalData('a notification kind')
  @Column({ type: 'text' })
  kind!: string;

  @PersonalData()
  @Column({ name: 'session_id', type: 'text' })
  sessionId!: string;

  @NotPersonalData('a state')
  @Column({ type: 'text' })
  status!: NotificationStatus;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @NotPersonalData('what the service writes about a failure, which never quotes personal data')
  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true })
  sentAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
