import { MigrationInterface, QueryRunner } from 'typeorm';

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
 */
export class OpenEvents1796169600000 implements MigrationInterface {
  name = 'OpenEvents1796169600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE webhook_events_open (id uuid PRIMARY KEY, received_at timestamptz NOT NULL)`);
    await q.query(`CREATE INDEX ix_webhook_events_open_received_at ON webhook_events_open (received_at)`);
    await q.query(
      `INSERT INTO webhook_events_open (id, received_at) SELECT id, received_at FROM webhook_events WHERE status IN ('received', 'processing', 'failed')`,
    );
    await q.query(`
      CREATE FUNCTION webhook_events_track_open() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' OR NEW.status IN ('processed', 'ignored') THEN
          DELETE FROM webhook_events_open WHERE id = OLD.id;
        ELSE
          INSERT INTO webhook_events_open (id, received_at) VALUES (NEW.id, NEW.received_at) ON CONFLICT (id) DO NOTHING;
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER webhook_events_open_on_insert AFTER INSERT ON webhook_events FOR EACH ROW
      WHEN (NEW.status NOT IN ('processed', 'ignored')) EXECUTE FUNCTION webhook_events_track_open()`);
    await q.query(`
      CREATE TRIGGER webhook_events_open_on_status AFTER UPDATE OF status ON webhook_events FOR EACH ROW
      WHEN ((OLD.status IN ('processed', 'ignored')) IS DISTINCT FROM (NEW.status IN ('processed', 'ignored')))
      EXECUTE FUNCTION webhook_events_track_open()`);
    await q.query(`
      CREATE TRIGGER webhook_events_open_on_delete AFTER DELETE ON webhook_events FOR EACH ROW
      WHEN (OLD.status NOT IN ('processed', 'ignored')) EXECUTE FUNCTION webhook_events_track_open()`);
    await q.query(`DROP INDEX ix_webhook_events_status_received_at`);
    await q.query(`CREATE INDEX ix_webhook_events_received_at ON webhook_events (received_at, id)`);
    await q.query(`ALTER TABLE webhook_events SET (fillfactor = 70)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_events RESET (fillfactor)`);
    await q.query(`DROP INDEX ix_webhook_events_received_at`);
    await q.query(`CREATE INDEX ix_webhook_events_status_received_at ON webhook_events (status, received_at)`);
    await q.query(`DROP TRIGGER webhook_events_open_on_delete ON webhook_events`);
    await q.query(`DROP TRIGGER webhook_events_open_on_status ON webhook_events`);
    await q.query(`DROP TRIGGER webhook_events_open_on_insert ON webhook_events`);
    await q.query(`DROP FUNCTION webhook_events_track_open()`);
    await q.query(`DROP TABLE webhook_events_open`);
  }
}
