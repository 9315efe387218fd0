import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently, inTransaction } from './live-table.js';

/**
 * Keeps the inbox's status out of its indexes, so that claiming a row and recording its outcome are
 * HOT updates (no index writes; dead versions pruned within the page, without vacuum): the cost of a
 * delivery no longer grows with the rows already stored.
 *
 * - `webhook_events_open`: the ids of the rows not finished ('received', 'processing', 'failed'),
 *   kept by triggers whoever writes the inbox (the service, an operator's UPDATE): a row enters
 *   when it is inserted or reopened and leaves when it is processed, ignored or deleted. The
 *   triggers' WHEN clauses skip every update that does not change that (claims, errors). The
 *   sweeper and the dead-letter desk find open rows here instead of through an index on status.
 * - The (status, received_at) index gives way to (received_at, id): the admin listing's keyset
 *   order and retention.
 * - fillfactor 70 leaves room in each page for the updated versions of its rows.
 *
 * Pods of the previous release keep writing the inbox while this runs (live-table.ts): the
 * triggers are committed first, so every row written from then on is tracked by them; the backfill
 * then copies the rows that were open before; a reconciliation adds any open row still missing
 * and removes any finished one that slipped in (locking just those rows, so a concurrent status
 * change waits or is seen). The indexes are built CONCURRENTLY, without blocking writes.
 */
export class OpenEvents1796169600000 implements MigrationInterface {
  name = 'OpenEvents1796169600000';
  // Not one transaction: the triggers must be visible to other sessions before the backfill reads.
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await inTransaction(q, async () => {
      await q.query(`CREATE TABLE IF NOT EXISTS webhook_events_open (id uuid PRIMARY KEY, received_at timestamptz NOT NULL)`);
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
      await q.query(`DROP TRIGGER IF EXISTS webhook_events_open_on_insert ON webhook_events`);
      await q.query(`
        CREATE TRIGGER webhook_events_open_on_insert AFTER INSERT ON webhook_events FOR EACH ROW
        WHEN (NEW.status NOT IN ('processed', 'ignored')) EXECUTE FUNCTION webhook_events_track_open()`);
      await q.query(`DROP TRIGGER IF EXISTS webhook_events_open_on_status ON webhook_events`);
      await q.query(`
        CREATE TRIGGER webhook_events_open_on_status AFTER UPDATE OF status ON webhook_events FOR EACH ROW
        WHEN ((OLD.status IN ('processed', 'ignored')) IS DISTINCT FROM (NEW.status IN ('processed', 'ignored')))
        EXECUTE FUNCTION webhook_events_track_open()`);
      await q.query(`DROP TRIGGER IF EXISTS webhook_events_open_on_delete ON webhook_events`);
      await q.query(`
        CREATE TRIGGER webhook_events_open_on_delete AFTER DELETE ON webhook_events FOR EACH ROW
        WHEN (OLD.status NOT IN ('processed', 'ignored')) EXECUTE FUNCTION webhook_events_track_open()`);
    });
    // The backfill reads through the status index, which still exists. A row finished after this
    // statement's snapshot may be copied anyway: the reconciliation below takes it out again.
    await q.query(
      `INSERT INTO webhook_events_open (id, received_at)
       SELECT id, received_at FROM webhook_events WHERE status IN ('received', 'processing', 'failed')
       ON CONFLICT (id) DO NOTHING`,
    );
    await reconcileOpenEvents(q);
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ix_webhook_events_status_received_at`);
    await createIndexConcurrently(q, 'ix_webhook_events_received_at', 'webhook_events (received_at, id)');
    await createIndexConcurrently(q, 'ix_webhook_events_open_received_at', 'webhook_events_open (received_at)');
    await q.query(`ALTER TABLE webhook_events SET (fillfactor = 70)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_events RESET (fillfactor)`);
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ix_webhook_events_received_at`);
    await createIndexConcurrently(q, 'ix_webhook_events_status_received_at', 'webhook_events (status, received_at)');
    await inTransaction(q, async () => {
      await q.query(`DROP TRIGGER IF EXISTS webhook_events_open_on_delete ON webhook_events`);
      await q.query(`DROP TRIGGER IF EXISTS webhook_events_open_on_status ON webhook_events`);
      await q.query(`DROP TRIGGER IF EXISTS webhook_events_open_on_insert ON webhook_events`);
      await q.query(`DROP FUNCTION IF EXISTS webhook_events_track_open()`);
      await q.query(`DROP TABLE IF EXISTS webhook_events_open`);
    });
  }
}

/**
 * Makes `webhook_events_open` list exactly the unfinished rows, while other sessions write the inbox
 * (the triggers must already be in place): adds the open rows it misses and removes the finished
 * ones it holds. Each statement locks the inbox rows it acts on (FOR SHARE): a row whose status
 * changed since the statement's snapshot is re-read and left out if it no longer qualifies, and a
 * status change that comes after waits for this commit, then fires its trigger. Reads the whole
 * inbox once (one sequential scan when `status` has no index).
 */
export async function reconcileOpenEvents(q: QueryRunner): Promise<void> {
  await q.query(
    `INSERT INTO webhook_events_open (id, received_at)
     SELECT e.id, e.received_at FROM webhook_events e
     WHERE e.status IN ('received', 'processing', 'failed') AND NOT EXISTS (SELECT 1 FROM webhook_events_open o WHERE o.id = e.id)
     FOR SHARE OF e
     ON CONFLICT (id) DO NOTHING`,
  );
  await q.query(
    `WITH finished AS (
       SELECT e.id FROM webhook_events e JOIN webhook_events_open o ON o.id = e.id
       WHERE e.status IN ('processed', 'ignored')
       FOR SHARE OF e)
     DELETE FROM webhook_events_open o USING finished WHERE o.id = finished.id`,
  );
  // Entries whose inbox row is gone (deleted after this statement's snapshot: the delete trigger had
  // nothing to remove yet).
  await q.query(`DELETE FROM webhook_events_open o WHERE NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.id = o.id)`);
}
