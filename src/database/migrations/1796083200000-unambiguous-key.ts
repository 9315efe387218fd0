import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * - `idempotency_key` becomes unambiguous: `${event}:${session_id}` with every `:` of the event name
 *   written `%3A` (event names cannot contain `%`). Only rows whose event name holds a `:` change;
 *   their new keys cannot collide with any existing key, whose event part has no `%`.
 * - `recoveries`: how many times the stale-row sweeper put the row back through processing. After
 *   MAX_RECOVERIES the sweeper ends it `failed` instead, so no row cycles without end. A constant
 *   default: adding the column rewrites nothing.
 */
export class UnambiguousKey1796083200000 implements MigrationInterface {
  name = 'UnambiguousKey1796083200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_events ADD COLUMN recoveries integer NOT NULL DEFAULT 0`);
    await q.query(
      `UPDATE webhook_events SET idempotency_key = replace(event, ':', '%3A') || ':' || session_id WHERE strpos(event, ':') > 0`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // Fails on a unique violation if both rows of a formerly colliding pair exist: resolve by hand.
    await q.query(`UPDATE webhook_events SET idempotency_key = event || ':' || session_id WHERE strpos(event, ':') > 0`);
    await q.query(`ALTER TABLE webhook_events DROP COLUMN recoveries`);
  }
}
