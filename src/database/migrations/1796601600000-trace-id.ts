import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `webhook_events.trace_id`: the trace of the delivery that recorded the row, when tracing was on and
 * sampled it (docs/operations.md, "Tracing"); the events console and the admin API show it, and a
 * replay or the sweeper continues that trace. Nullable without a default: adding it rewrites nothing
 * and takes its lock only for an instant, while pods of the previous release write the inbox.
 */
export class TraceId1796601600000 implements MigrationInterface {
  name = 'TraceId1796601600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_events ADD COLUMN IF NOT EXISTS trace_id text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_events DROP COLUMN IF EXISTS trace_id`);
  }
}
