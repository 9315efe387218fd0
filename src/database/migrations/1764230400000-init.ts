import { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1764230400000 implements MigrationInterface {
  name = 'Init1764230400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_events (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        idempotency_key text NOT NULL,
        event text NOT NULL,
        session_id text NOT NULL,
        payload jsonb NOT NULL,
        signature_scheme text NOT NULL,
        status text NOT NULL DEFAULT 'received',
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        request_id text,
        received_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_webhook_events_idempotency_key UNIQUE (idempotency_key),
        CONSTRAINT ck_webhook_events_status CHECK (status IN ('received', 'processing', 'processed', 'failed', 'ignored'))
      )`);
    // The sweeper looks for stale 'received' rows; the admin API lists by status, newest first.
    await q.query(`CREATE INDEX ix_webhook_events_status_received_at ON webhook_events (status, received_at)`);
    await q.query(`CREATE INDEX ix_webhook_events_session_id ON webhook_events (session_id)`);

    await q.query(`
      CREATE TABLE interviews (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        session_id text NOT NULL,
        participant_email text,
        transcript jsonb,
        duration_minutes double precision,
        completed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_interviews_session_id UNIQUE (session_id)
      )`);

    await q.query(`
      CREATE TABLE feedback (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        session_id text NOT NULL,
        rating double precision,
        comment text,
        payload jsonb NOT NULL,
        submitted_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_feedback_session_id UNIQUE (session_id)
      )`);

    await q.query(`
      CREATE TABLE notifications (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        kind text NOT NULL,
        session_id text NOT NULL,
        status text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        sent_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_notifications_kind_session_id UNIQUE (kind, session_id),
        CONSTRAINT ck_notifications_status CHECK (status IN ('pending', 'sending', 'sent', 'skipped', 'failed'))
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE notifications`);
    await q.query(`DROP TABLE feedback`);
    await q.query(`DROP TABLE interviews`);
    await q.query(`DROP TABLE webhook_events`);
  }
}
