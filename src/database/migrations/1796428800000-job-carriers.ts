import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently, inTransaction } from './live-table.js';

/**
 * - `webhook_events.job_id`: the queue job a row was last reopened under (a replay, the sweeper);
 *   NULL while the row travels in its batch job or in its own job under its row id. Only that job may
 *   claim the row, so a row never runs in two jobs, and the sweeper asks the queue whether the job
 *   carrying a row is still alive before it reopens the row. Nullable without a default: adding it
 *   rewrites nothing.
 * - `webhook_events_open.failed`: dead letters stay listed as open, but apart. The sweeper reads the
 *   unfinished rows through a partial index that holds none of them, so a pass costs the same with
 *   any number of dead letters; the dead-letter desk reads the other one.
 * - Reconciles `webhook_events_open` with the inbox: the first release of that table filled it
 *   before its triggers existed, so rows written meanwhile by the pods of the release before could
 *   be missing from it for good. Reads the whole inbox once.
 *
 * Runs while pods of the previous release write the inbox, in the order of live-table.ts.
 */
export class JobCarriers1796428800000 implements MigrationInterface {
  name = 'JobCarriers1796428800000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await inTransaction(q, async () => {
      await q.query(`ALTER TABLE webhook_events ADD COLUMN IF NOT EXISTS job_id text`);
      await q.query(`ALTER TABLE webhook_events_open ADD COLUMN IF NOT EXISTS failed boolean NOT NULL DEFAULT false`);
      await q.query(`
        CREATE OR REPLACE FUNCTION webhook_events_track_open() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' OR NEW.status IN ('processed', 'ignored') THEN
            DELETE FROM webhook_events_open WHERE id = OLD.id;
          ELSE
            INSERT INTO webhook_events_open (id, received_at, failed) VALUES (NEW.id, NEW.received_at, NEW.status = 'failed')
            ON CONFLICT (id) DO UPDATE SET failed = EXCLUDED.failed;
          END IF;
          RETURN NULL;
        END $$`);
      // Fires when a row finishes or reopens, and now also when it becomes a dead letter or stops being
      // one; still never for a claim (received -> processing) or an error note.
      await q.query(`DROP TRIGGER IF EXISTS webhook_events_open_on_status ON webhook_events`);
      await q.query(`
        CREATE TRIGGER webhook_events_open_on_status AFTER UPDATE OF status ON webhook_events FOR EACH ROW
        WHEN ((OLD.status IN ('processed', 'ignored')) IS DISTINCT FROM (NEW.status IN ('processed', 'ignored'))
           OR (OLD.status = 'failed') IS DISTINCT FROM (NEW.status = 'failed'))
        EXECUTE FUNCTION webhook_events_track_open()`);
    });
    await reconcileOpenEvents(q);
    await createIndexConcurrently(q, 'ix_webhook_events_open_unfinished', 'webhook_events_open (received_at, id)', 'NOT failed');
    await createIndexConcurrently(q, 'ix_webhook_events_open_failed', 'webhook_events_open (received_at, id)', 'failed');
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ix_webhook_events_open_received_at`);
  }

  async down(q: QueryRunner): Promise<void> {
    await createIndexConcurrently(q, 'ix_webhook_events_open_received_at', 'webhook_events_open (received_at)');
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ix_webhook_events_open_failed`);
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ix_webhook_events_open_unfinished`);
    await inTransaction(q, async () => {
      await q.query(`DROP TRIGGER IF EXISTS webhook_events_open_on_status ON webhook_events`);
      await q.query(`
        CREATE TRIGGER webhook_events_open_on_status AFTER UPDATE OF status ON webhook_events FOR EACH ROW
        WHEN ((OLD.status IN ('processed', 'ignored')) IS DISTINCT FROM (NEW.status IN ('processed', 'ignored')))
        EXECUTE FUNCTION webhook_events_track_open()`);
      await q.query(`
        CREATE OR REPLACE FUNCTION webhook_events_track_open() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' OR NEW.status IN ('processed', 'ignored') THEN
            DELETE FROM webhook_events_open WHERE id = OLD.id;
          ELSE
            INSERT INTO webhook_events_open (id, received_at) VALUES (NEW.id, NEW.received_at) ON CONFLICT (id) DO NOTHING;
          END IF;
          RETURN NULL;
        END $$`);
      await q.query(`ALTER TABLE webhook_events_open DROP COLUMN IF EXISTS failed`);
      await q.query(`ALTER TABLE webhook_events DROP COLUMN IF EXISTS job_id`);
    });
  }
}

/**
 * Makes `webhook_events_open` list exactly the unfinished rows, each with its `failed` flag right,
 * while other sessions write the inbox (its triggers must already keep it). Each statement locks the
 * inbox rows it acts on (FOR SHARE): a row whose status changed since the statement's snapshot is
 * read again and left out if it no longer qualifies, and a status change that comes after waits for
 * this commit and then fires its trigger. Reads the whole inbox once.
 */
export async function reconcileOpenEvents(q: QueryRunner): Promise<void> {
  await q.query(
    `INSERT INTO webhook_events_open (id, received_at, failed)
     SELECT e.id, e.received_at, e.status = 'failed' FROM webhook_events e
     WHERE e.status IN ('received', 'processing', 'failed') AND NOT EXISTS (SELECT 1 FROM webhook_events_open o WHERE o.id = e.id)
     FOR SHARE OF e
     ON CONFLICT (id) DO NOTHING`,
  );
  // Only the rows listed wrongly are locked: a finished row, or a dead letter not flagged as one (or
  // the reverse). Locked, each is read as it is now: one that is right by now is left out.
  await q.query(
    `WITH wrong AS (
       SELECT e.id, e.status FROM webhook_events e JOIN webhook_events_open o ON o.id = e.id
       WHERE e.status IN ('processed', 'ignored') OR o.failed IS DISTINCT FROM (e.status = 'failed')
       FOR SHARE OF e),
     finished AS (DELETE FROM webhook_events_open o USING wrong WHERE o.id = wrong.id AND wrong.status IN ('processed', 'ignored'))
     UPDATE webhook_events_open o SET failed = (wrong.status = 'failed')
     FROM wrong WHERE o.id = wrong.id AND wrong.status IN ('received', 'processing', 'failed')`,
  );
  // Entries whose inbox row is gone (deleted while an earlier backfill copied it).
  await q.query(`DELETE FROM webhook_events_open o WHERE NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.id = o.id)`);
}
