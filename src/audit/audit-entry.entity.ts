import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { NotPersonalData } from '../events/personal-data.js';

/**
 * One admin action or retention pass (`audit_log`, append-only: a trigger refuses UPDATE, DELETE and
 * TRUNCATE). `target` is an inbox or erasure id, or the HMAC of a subject: never an email.
 */
@Entity({ name: 'audit_log' })
export class AuditEntry {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id!: string;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  at!: Date;

  /** The admin token's name (ADMIN_TOKENS; `admin` for ADMIN_TOKEN), or `system`. */
  @NotPersonalData('an operator name from the configuration')
  @Column({ type: 'text' })
  actor!: string;

  @NotPersonalData('an action name')
  @Column({ type: 'text' })
  action!: string;

  @NotPersonalData('an id or the HMAC of a subject')
  @Column({ type: 'text', nullable: true })
  target!: string | null;

  @NotPersonalData('counts')
  @Column({ type: 'jsonb', nullable: true })
  counts!: Record<string, number> | null;

  @NotPersonalData('a request id')
  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId!: string | null;
}
