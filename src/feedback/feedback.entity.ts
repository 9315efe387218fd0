import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { PersonalData } from '../events/personal-data.js';

@Entity({ name: 'feedback' })
export class Feedback {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @PersonalData()
  @Column({ name: 'session_id', type: 'text', unique: true })
  sessionId!: string;

  @Column({ type: 'double precision', nullable: true })
  rating!: number | null;

  @PersonalData()
  @Column({ type: 'text', nullable: true })
  comment!: string | null;

  @PersonalData()
  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @Column({ name: 'submitted_at', type: 'timestamptz', nullable: true })
  submittedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
