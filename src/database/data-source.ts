import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DataSource, DataSourceOptions, Migration } from 'typeorm';
import { parseJsonFaithfully } from '../common/faithful-json.js';
import { Init1764230400000 } from './migrations/1764230400000-init.js';
import { BatchJobId1764244800000 } from './migrations/1764244800000-batch-job-id.js';
import { UnambiguousKey1796083200000 } from './migrations/1796083200000-unambiguous-key.js';
import { withMigrationLock } from './migration-lock.js';
import type { PgConnectionOptions } from '../config/postgres-tls.js';
import { postgresTls } from '../config/postgres-tls.js';
import { OpenEvents1796169600000 } from './migrations/1796169600000-open-events.js';
import { JobCarriers1796428800000 } from './migrations/1796428800000-job-carriers.js';
import { Privacy1796515200000 } from './migrations/1796515200000-privacy.js';
import { TraceId1796601600000 } from './migrations/1796601600000-trace-id.js';

// json and jsonb columns as the pg driver reads them (for TypeORM and SqlStatements alike): Node 24's
// JSON.parse can misread an escaped key (faithful-json.ts), and the worker processes the payloads it
// reads back. 100 levels is deeper than anything the service stores (payloads 32, transcripts 64).
const JSON_COLUMN_MAX_DEPTH = 100;
for (const oid of [pg.types.builtins.JSON, pg.types.builtins.JSONB])
  pg.types.setTypeParser(oid, (text: string) => parseJsonFaithfully(text, JSON_COLUMN_MAX_DEPTH));

// Listed explicitly (not a glob) so the same list works from ts-jest and dist/.
export const migrations = [
  Init1764230400000,
  BatchJobId1764244800000,
  UnambiguousKey1796083200000,
  OpenEvents1796169600000,
  JobCarriers1796428800000,
  Privacy1796515200000,
  TraceId1796601600000,
];

/**
 * The connection options shared by the app and the TypeORM CLI. Entities are not listed here: each
 * feature module registers its own (TypeOrmModule.forFeature) and the app loads them from there.
 */
export function dataSourceOptions(connection: PgConnectionOptions | string): DataSourceOptions {
  // A URL without its TLS parameters, which `ssl` carries (config/postgres-tls.ts): pg would let
  // the URL's override them. A plain string is given to pg as it is (tests).
  const { connectionString, ssl } = typeof connection === 'string' ? { connectionString: connection, ssl: undefined } : connection;
  return {
    type: 'postgres',
    url: connectionString,
    ...(ssl !== undefined ? { ssl } : {}),
    migrations,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'migrations',
    // Each in a transaction of its own, unless it says otherwise (migrations of a table in use:
    // migrations/live-table.ts); the CLI's default ('all') refuses such a migration.
    migrationsTransactionMode: 'each',
    uuidExtension: 'pgcrypto',
    // The ingest path batches, so a small pool goes far; workers share it.
    extra: { max: 20, connectionTimeoutMillis: 5000 },
  };
}

/**
 * The CLI's data source: migrations run under the same advisory lock as the service's at boot,
 * held in a transaction behind a pooler in transaction mode (DATABASE_POOL_MODE).
 */
class CliDataSource extends DataSource {
  override runMigrations(options?: Parameters<DataSource['runMigrations']>[0]): Promise<Migration[]> {
    const poolMode = process.env.DATABASE_POOL_MODE === 'transaction' ? 'transaction' : 'session';
    return withMigrationLock(this, poolMode, () => super.runMigrations(options));
  }
}

/**
 * The TypeORM CLI's data source (`npm run migration:run`, the migrate Job and compose service):
 * migrations, and the built entity files by path, for `migration:generate` to compare against.
 */
// The application imports this module too (for dataSourceOptions), also in the embedded mode, where
// DATABASE_URL is unset or empty: the CLI's default URL then stands in, unused.
export default new CliDataSource({
  ...dataSourceOptions(postgresTls(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres', 'DATABASE_URL')),
  entities: [fileURLToPath(new URL('../**/*.entity.js', import.meta.url))],
});
