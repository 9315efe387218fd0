import { Column, Entity, PrimaryColumn } from 'typeorm';
import { NotPersonalData } from '../events/personal-data.js';

export type ErasureStatus = 'pending' | 'completed';

/** One erasure request: what was erased, by whom, with the counts per kind of record. No personal data. */
@Entity({ name: 'erasures' })
export class Erasure {
  @PrimaryColumn('uuid')
  id!: string;

  @NotPersonalData('`email` or `session_id`')
  @Column({ name: 'subject_kind', type: 'text' })
  subjectKind!: 'email' | 'session_id';

  @NotPersonalData('an HMAC of the subject')
  @Column({ name: 'subject_hash', type: 'text' })
  subjectHash!: string;

  @NotPersonalData('a state')
  @Column({ type: 'text' })
  status!: ErasureStatus;

  @NotPersonalData('counts')
  @Column({ type: 'jsonb', default: {} })
  counts!: Record<string, number>;

  @NotPersonalData('an operator name')
  @Column({ type: 'text' })
  actor!: string;

  @NotPersonalData('a request id')
  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;
}
