import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { migrations } from '../src/database/data-source.js';
import { createTestDatabase, TestDatabase } from './helpers/service.js';

/**
 * Migrations of the inbox run while pods of the previous release keep writing it (a rolling
 * upgrade: docs/deployment.md). Each test fills an inbox as a busy deployment has it, runs the
 * migrations while a second connection keeps inserting rows and moving others on (claims, outcomes,
 * dead letters, replays) as the old pods do, and then checks that `webhook_events_open` lists exactly
 * the unfinished rows.
 */
const BEFORE_OPEN_EVENTS = migrations.findIndex((m) => m.name === 'OpenEvents1796169600000');
const JOB_CARRIERS = migrations.findIndex((m) => m.name === 'JobCarriers1796428800000');
const UNFINISHED_ROWS = 150_000;

async function migrate(url: string, upTo: number): Promise<void> {
  const ds = new DataSource({ type: 'postgres', url, migrations: migrations.slice(0, upTo), migrationsTransactionMode: 'each' });
  await ds.initialize();
  try {
    await ds.runMigrations();
  } finally {
    await ds.destroy();
  }
}

/** What the pods of the previous release do to the inbox, from a connection of their own, until stopped. */
function oldPods(url: string): { stop(): Promise<{ inserted: number; moved: number }> } {
  let stopping = false;
  const counts = { inserted: 0, moved: 0 };
  const client = new Client({ connectionString: url });
  const work = (async () => {
    await client.connect();
    for (let i = 0; !stopping; i++) {
      await client.query(
        `INSERT INTO webhook_events (id, idempotency_key, event, session_id, payload, signature_scheme)
         VALUES (gen_random_uuid(), $1, 'session.feedback_submitted', $1, '{}', 'signature')`,
        [`live-${i}`],
      );
      counts.inserted++;
      // A claim, an outcome, a dead letter and a replay of rows written before or during the migration.
      const next = ['processing', 'processed', 'failed', 'received'][i % 4];
      const moved = await client.query(
        `UPDATE webhook_events SET status = $1 WHERE id = (SELECT id FROM webhook_events WHERE session_id = $2)`,
        [next, i % 8 < 4 ? `old-${(i * 37) % UNFINISHED_ROWS}` : `live-${Math.floor(i / 2)}`],
      );
      counts.moved += moved.rowCount ?? 0;
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      await work;
      await client.end();
      return counts;
    },
  };
}

/** Rows the open table gets wrong: unfinished ones missing, finished ones listed, dead letters mislabelled. */
async function openTableErrors(db: TestDatabase, withFailedFlag: boolean) {
  const [row] = await db.query<{ missing: number; finished: number; orphans: number; mislabelled: number }>(`
    SELECT
      (SELECT count(*) FROM webhook_events e WHERE e.status IN ('received', 'processing', 'failed')
         AND NOT EXISTS (SELECT 1 FROM webhook_events_open o WHERE o.id = e.id))::int AS missing,
      (SELECT count(*) FROM webhook_events_open o JOIN webhook_events e USING (id) WHERE e.status IN ('processed', 'ignored'))::int AS finished,
      (SELECT count(*) FROM webhook_events_open o WHERE NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.id = o.id))::int AS orphans,
      ${withFailedFlag ? `(SELECT count(*) FROM webhook_events_open o JOIN webhook_events e USING (id) WHERE o.failed <> (e.status = 'failed'))::int` : '0'} AS mislabelled`);
  return row;
}

describe('migrations of the inbox under writes from the previous release', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase();
    await migrate(db.url, BEFORE_OPEN_EVENTS);
    // A deployment's inbox: a large backlog of unfinished rows, and finished ones.
    await db.query(
      `INSERT INTO webhook_events (id, idempotency_key, event, session_id, payload, signature_scheme, status)
       SELECT gen_random_uuid(), 'old-' || g, 'session.feedback_submitted', 'old-' || g, '{}', 'signature',
              CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'received' END
       FROM generate_series(0, $1::int - 1) g`,
      [UNFINISHED_ROWS],
    );
    await db.query(
      `INSERT INTO webhook_events (id, idempotency_key, event, session_id, payload, signature_scheme, status)
       SELECT gen_random_uuid(), 'done-' || g, 'session.feedback_submitted', 'done-' || g, '{}', 'signature', 'processed'
       FROM generate_series(1, 50000) g`,
    );
  }, 120_000);

  afterEach(async () => {
    await db?.drop();
  });

  it('the open-events migration lists every unfinished row, including those written while it ran', async () => {
    const pods = oldPods(db.url);
    await migrate(db.url, BEFORE_OPEN_EVENTS + 1);
    const { inserted, moved } = await pods.stop();
    expect(inserted).toBeGreaterThan(100);
    expect(moved).toBeGreaterThan(100);
    expect(await openTableErrors(db, false)).toEqual({ missing: 0, finished: 0, orphans: 0, mislabelled: 0 });
  }, 180_000);

  it('the job-carriers migration heals an open table left incomplete, while pods write, and labels the dead letters', async () => {
    await migrate(db.url, BEFORE_OPEN_EVENTS + 1);
    // What the first release of the open-events migration could leave behind: rows it never listed.
    await db.query(`DELETE FROM webhook_events_open WHERE id IN (SELECT id FROM webhook_events_open ORDER BY id LIMIT 500)`);
    expect((await openTableErrors(db, false)).missing).toBe(500);
    const pods = oldPods(db.url);
    await migrate(db.url, JOB_CARRIERS + 1);
    const { inserted } = await pods.stop();
    expect(inserted).toBeGreaterThan(100);
    expect(await openTableErrors(db, true)).toEqual({ missing: 0, finished: 0, orphans: 0, mislabelled: 0 });
  }, 180_000);
});
