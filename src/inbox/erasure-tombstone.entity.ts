import { Column, Entity, PrimaryColumn } from 'typeorm';
import { NotPersonalData } from '../events/personal-data.js';

/**
 * An erased subject (an email or a session id), as the HMAC of its normalised value: the inbox's INSERT
 * consults it, so a delivery for an erased subject is answered `erased` and not stored. Holds no
 * personal data. Kept by the inbox because its statement reads it; the privacy module writes it.
 */
@Entity({ name: 'erasure_tombstones' })
export class ErasureTombstone {
  @NotPersonalData('an HMAC of the subject, under a key kept apart from it')
  @PrimaryColumn({ name: 'subject_hash', type: 'text' })
  subjectHash!: string;

  /** Which key made the HMAC (privacy/subject-hashes.ts): a switch of ERASURE_HASH_KEY keeps older tombstones working. */
  @NotPersonalData('a key fingerprint')
  @Column({ name: 'key_id', type: 'text' })
  keyId!: string;

  @Column({ name: 'erasure_id', type: 'uuid' })
  erasureId!: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}
