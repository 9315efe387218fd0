import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { PersonalData } from '../events/personal-data.js';

@Entity({ name: 'interviews' })
export class Interview {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @PersonalData()
  @Column({ name: 'session_id', type: 'text', unique: true })
  sessionId!: string;

  @PersonalData()
  @Column({ name: 'participant_email', type: 'text', nullable: true })
  participantEmail!: string | null;

  @PersonalData()
  @Column({ type: 'jsonb', nullable: true })
  transcript!: object | null;

  @Column({ name: 'duration_minutes', type: 'double precision', nullable: true })
  durationMinutes!: number | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
