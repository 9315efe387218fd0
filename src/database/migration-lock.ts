import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';

// Any constant works; it only has to be the same for every instance of this service and the CLI.
const MIGRATION_LOCK_ID = 727_274_001;

/**
 * Runs `migrate` holding a lock of its own, so that several instances booting at once, and the
 * TypeORM CLI (the migrate Job), apply migrations one at a time: migrations of a table in use run
 * outside a single transaction (migrations/live-table.ts) and must not run twice side by side. The
 * migrations themselves run on other connections of the pool.
 * `session`: a session-level advisory lock. `transaction` (a pooler in transaction mode): a lease
 * row (`migration_lease`), since neither lock kind fits: a session lock stays on whichever server
 * connection took it, and a transaction kept open to hold an xact lock makes CREATE INDEX
 * CONCURRENTLY wait for that transaction, forever. A lease of a crashed holder expires after
 * LEASE_SECONDS.
 */
export async function withMigrationLock<T>(
  dataSource: DataSource,
  poolMode: 'session' | 'transaction',
  migrate: () => Promise<T>,
): Promise<T> {
  if (poolMode === 'transaction') return withLease(dataSource, MIGRATION_LOCK_ID, migrate);
  return withAdvisoryLock(dataSource, poolMode, MIGRATION_LOCK_ID, 'wait', migrate) as Promise<T>;
}

const LEASE_SECONDS = 30;
const LEASE_RENEW_MS = 10_000;
const LEASE_RETRY_MS = 500;

async function withLease<T>(dataSource: DataSource, id: number, work: () => Promise<T>): Promise<T> {
  const holder = randomUUID();
  await dataSource.query(
    'CREATE TABLE IF NOT EXISTS migration_lease (id integer PRIMARY KEY, holder uuid NOT NULL, expires_at timestamptz NOT NULL)',
  );
  for (;;) {
    const taken = await dataSource.query<unknown[]>(
      `INSERT INTO migration_lease (id, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
       ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE migration_lease.expires_at < now() RETURNING holder`,
      [id, holder, LEASE_SECONDS],
    );
    if (taken.length > 0) break;
    await sleep(LEASE_RETRY_MS);
  }
  const renew = setInterval(() => {
    dataSource
      .query('UPDATE migration_lease SET expires_at = now() + make_interval(secs => $3) WHERE id = $1 AND holder = $2', [
        id,
        holder,
        LEASE_SECONDS,
      ])
      .catch(() => undefined);
  }, LEASE_RENEW_MS);
  renew.unref();
  try {
    return await work();
  } finally {
    clearInterval(renew);
    await dataSource.query('DELETE FROM migration_lease WHERE id = $1 AND holder = $2', [id, holder]).catch(() => undefined);
  }
}

/**
 * Runs `work` while this process holds advisory lock `id` (`try`: resolves `undefined` without
 * running it when another holds the lock). `session`: a session-level lock, taken and released on
 * one connection. `transaction`: behind a pooler in transaction mode a session lock would stay on
 * whichever server connection took it (and the unlock would land on another), so the lock is
 * transaction-scoped instead, its transaction kept open (which pins one server connection) until
 * `work` ends; a dropped connection releases it, as a session lock's would. (Not for work that
 * builds indexes CONCURRENTLY: that waits for the open transaction.)
 */
export async function withAdvisoryLock<T>(
  dataSource: DataSource,
  poolMode: 'session' | 'transaction',
  id: number,
  how: 'wait' | 'try',
  work: () => Promise<T>,
): Promise<T | undefined> {
  const runner = dataSource.createQueryRunner();
  const transaction = poolMode === 'transaction';
  let locked = false;
  try {
    if (transaction) await runner.startTransaction();
    const fn = `pg${how === 'try' ? '_try' : ''}_advisory${transaction ? '_xact' : ''}_lock`;
    const [row] = (await runner.query(`SELECT ${fn}($1) AS locked`, [id])) as [{ locked: boolean | '' }];
    locked = how === 'wait' || row.locked === true;
    if (!locked) return undefined;
    return await work();
  } finally {
    if (transaction) await runner.commitTransaction().catch(() => undefined);
    else if (locked) await runner.query('SELECT pg_advisory_unlock($1)', [id]).catch(() => undefined);
    await runner.release();
  }
}
