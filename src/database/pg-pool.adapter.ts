import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';

/**
 * The `pg` pool under TypeORM's PostgreSQL driver. TypeORM has no public way to run a named
 * (prepared) statement, so SqlStatements uses the pool directly; `driver.master` is where TypeORM
 * keeps it. The only place that reaches for it (pg-pool.adapter.spec.ts fails if that changes).
 */
export function pgPoolOf(dataSource: DataSource): Pool {
  const pool = (dataSource.driver as PostgresDriver).master as Pool | undefined;
  if (!pool || typeof pool.query !== 'function')
    throw new Error("TypeORM's PostgreSQL driver no longer keeps its pg pool in driver.master");
  return pool;
}
