import { DataSource } from 'typeorm';

// Any constant works; it only has to be the same for every instance of this service and the CLI.
const MIGRATION_LOCK_ID = 727_274_001;

/**
 * Runs `migrate` holding a session-level advisory lock on a connection of its own, so that several
 * instances booting at once, and the TypeORM CLI (the migrate Job), apply migrations one at a time:
 * migrations of a table in use run outside a single transaction (migrations/live-table.ts) and
 * must not run twice side by side.
 */
export async function withMigrationLock<T>(dataSource: DataSource, migrate: () => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    return await migrate();
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await runner.release();
  }
}
