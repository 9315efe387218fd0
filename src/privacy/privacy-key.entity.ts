import { Column, Entity, PrimaryColumn } from 'typeorm';
import { NotPersonalData } from '../events/personal-data.js';

/** The HMAC key of the erasure tombstones that the service generated, when ERASURE_HASH_KEY is unset. */
@Entity({ name: 'privacy_keys' })
export class PrivacyKey {
  @NotPersonalData('a key name')
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @NotPersonalData('a random key')
  @Column({ type: 'bytea' })
  key!: Buffer;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}
