import { QueryRunner } from 'typeorm';

/**
 * Helpers for migrations of a table that running pods keep writing during the upgrade (the inbox:
 * docs/deployment.md, "Upgrades"). Such a migration sets `transaction = false` and orders its steps so
 * that no write falls between them:
 * 1. what keeps derived data in step (triggers) goes in first, in a short transaction of its own
 *    (`inTransaction`), so every write committed after it is tracked;
 * 2. then the backfill of what was written before;
 * 3. then a reconciliation that locks only the rows it corrects (FOR SHARE) and adds or removes what
 *    the backfill missed while writes went on;
 * 4. indexes are built and dropped CONCURRENTLY (`createIndexConcurrently`), never blocking writes.
 * Without a wrapping transaction a failed run leaves its earlier steps applied, so every step is
 * idempotent (IF NOT EXISTS, CREATE OR REPLACE, ON CONFLICT DO NOTHING) and a rerun completes it.
 */
export async function inTransaction(q: QueryRunner, steps: () => Promise<void>): Promise<void> {
  await q.startTransaction();
  try {
    await steps();
    await q.commitTransaction();
  } catch (err) {
    await q.rollbackTransaction().catch(() => undefined);
    throw err;
  }
}

/**
 * CREATE INDEX CONCURRENTLY, rerunnable: an index left invalid by an interrupted build (which IF NOT
 * EXISTS would keep) is dropped and built again.
 */
export async function createIndexConcurrently(q: QueryRunner, name: string, definition: string, where = ''): Promise<void> {
  const existing = (await q.query(
    `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
    [name],
  )) as Array<{ valid: boolean }>;
  if (existing[0]?.valid) return;
  if (existing.length > 0) await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
  await q.query(`CREATE INDEX CONCURRENTLY ${name} ON ${definition}${where ? ` WHERE ${where}` : ''}`);
}
