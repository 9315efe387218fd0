import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently, inTransaction } from './live-table.js';

/**
 * The personal-data lifecycle (docs/privacy.md):
 * - `audit_log`: append-only (a trigger refuses UPDATE, DELETE and TRUNCATE), one row per admin
 *   action and retention pass; its target is an id or a subject's HMAC, never a plain email;
 * - `erasures`: each erasure request, with its counts; `erasure_tombstones`: the HMAC of every erased
 *   email and session id, which the inbox's INSERT consults so that a redelivery stays erased;
 *   `privacy_keys`: the HMAC key the service generates when ERASURE_HASH_KEY is unset;
 * - `retention_progress`: per kind of data, up to when the retention passes have expired it;
 * - `webhook_events.payload_expired_at`: when retention dropped a row's payload (nullable, no rewrite);
 * - indexes for retention by age and erasure by email on the feature tables, built CONCURRENTLY:
 *   running pods write those tables during the upgrade (live-table.ts).
 */
export class Privacy1796515200000 implements MigrationInterface {
  name = 'Privacy1796515200000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await inTransaction(q, async () => {
      await q.query(`
        CREATE TABLE IF NOT EXISTS audit_log (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          at timestamptz NOT NULL DEFAULT now(),
          actor text NOT NULL,
          action text NOT NULL,
          target text,
          counts jsonb,
          request_id text
        )`);
      await q.query(`
        CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'audit_log is append-only';
        END $$`);
      await q.query(`DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log`);
      await q.query(`
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`);
      await q.query(`
        CREATE TABLE IF NOT EXISTS erasures (
          id uuid PRIMARY KEY,
          subject_kind text NOT NULL,
          subject_hash text NOT NULL,
          status text NOT NULL,
          counts jsonb NOT NULL DEFAULT '{}',
          actor text NOT NULL,
          request_id text,
          created_at timestamptz NOT NULL DEFAULT now(),
          completed_at timestamptz
        )`);
      await q.query(`
        CREATE TABLE IF NOT EXISTS erasure_tombstones (
          subject_hash text PRIMARY KEY,
          key_id text NOT NULL,
          erasure_id uuid NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now()
        )`);
      await q.query(
        `CREATE TABLE IF NOT EXISTS privacy_keys (id text PRIMARY KEY, key bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
      );
      await q.query(
        `CREATE TABLE IF NOT EXISTS retention_progress (kind text PRIMARY KEY, done_until timestamptz NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
      );
      await q.query(`ALTER TABLE webhook_events ADD COLUMN IF NOT EXISTS payload_expired_at timestamptz`);
    });
    await createIndexConcurrently(q, 'ix_audit_log_action', 'audit_log (action, id)');
    await createIndexConcurrently(q, 'ix_erasures_subject_hash', 'erasures (subject_hash)');
    await createIndexConcurrently(q, 'ix_interviews_created_at', 'interviews (created_at, id)');
    await createIndexConcurrently(q, 'ix_interviews_participant_email', 'interviews ((lower(participant_email)))');
    await createIndexConcurrently(q, 'ix_feedback_created_at', 'feedback (created_at, id)');
    await createIndexConcurrently(q, 'ix_notifications_created_at', 'notifications (created_at, id)');
  }

  async down(q: QueryRunner): Promise<void> {
    for (const index of [
      'ix_notifications_created_at',
      'ix_feedback_created_at',
      'ix_interviews_participant_email',
      'ix_interviews_created_at',
    ]) {
      await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
    }
    await inTransaction(q, async () => {
      await q.query(`ALTER TABLE webhook_events DROP COLUMN IF EXISTS payload_expired_at`);
      await q.query(`DROP TABLE IF EXISTS retention_progress, privacy_keys, erasure_tombstones, erasures, audit_log`);
      await q.query(`DROP FUNCTION IF EXISTS audit_log_append_only()`);
    });
  }
}
