import { Column, Entity, PrimaryColumn } from 'typeorm';
import { NotPersonalData } from '../events/personal-data.js';

/** Per kind of data: everything stored before `done_until` that retention should expire is expired. */
@Entity({ name: 'retention_progress' })
export class RetentionProgress {
  @NotPersonalData('a kind of data')
  @PrimaryColumn({ type: 'text' })
  kind!: string;

  @Column({ name: 'done_until', type: 'timestamptz' })
  doneUntil!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}
