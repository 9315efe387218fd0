import type { PGlite } from '@electric-sql/pglite';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../config/configuration.js';

export interface EmbeddedDatabase {
  /** A `postgres://` URL for the ordinary `pg` driver (TypeORM and BullMQ). */
  url: string;
  /** Where PGlite keeps its files. */
  dataDir: string;
  stop(): Promise<void>;
}

// Every client shares PGlite's single Postgres session, so the pool sizes of TypeORM (20) and of
// each BullMQ queue and worker (8 each, plus a LISTEN client) all have to fit under this.
const MAX_CONNECTIONS = 200;

/**
 * Starts PGlite (PostgreSQL compiled to WebAssembly, in this process) on `<dataDir>/pglite` and
 * serves it on a private loopback port, so TypeORM and BullMQ connect through the ordinary `pg`
 * driver as they would to a PostgreSQL server.
 */
export async function startEmbeddedDatabase(dataDir: string): Promise<EmbeddedDatabase> {
  const { PGlite, pgcrypto, PGLiteSocketServer } = await loadPglite();
  const pgDataDir = resolve(dataDir, 'pglite');
  mkdirSync(pgDataDir, { recursive: true });
  const releaseLock = lockDataDir(resolve(dataDir));

  let db: PGlite | undefined;
  try {
    db = await PGlite.create({ dataDir: pgDataDir, extensions: { pgcrypto } });
    // TypeORM runs CREATE EXTENSION for its uuid columns (pgcrypto); load it here so that succeeds.
    await db.exec('CREATE EXTENSION IF NOT EXISTS pgcrypto');
    // All connections share one session and PGlite ignores startup options such as
    // `-c search_path=bullmq`, so the search path is set once, before anyone connects: our tables
    // stay in `public` (first, so TypeORM's current_schema() is public) and BullMQ's functions and
    // tables, which it calls by unqualified name, resolve in schema `bullmq`.
    await db.exec('SET search_path TO public, bullmq');

    const server = new PGLiteSocketServer({
      db: serializeExtendedBatches(db),
      host: '127.0.0.1',
      port: 0,
      maxConnections: MAX_CONNECTIONS,
    });
    await server.start();
    const [host, port] = server.getServerConn().split(':');
    const pglite = db;
    return {
      url: `postgres://postgres@${host}:${port}/postgres`,
      dataDir: pgDataDir,
      stop: async () => {
        await server.stop().catch(() => undefined);
        await pglite.close().catch(() => undefined);
        releaseLock();
      },
    };
  } catch (err) {
    await db?.close().catch(() => undefined);
    releaseLock();
    throw err;
  }
}

/**
 * PGlite is an optional dependency, loaded only when the embedded mode starts: the production image
 * (npm ci --omit=optional) leaves it out, and production never runs without DATABASE_URL.
 */
async function loadPglite() {
  try {
    const [{ PGlite }, { pgcrypto }, { PGLiteSocketServer }] = await Promise.all([
      import('@electric-sql/pglite'),
      import('@electric-sql/pglite/contrib/pgcrypto'),
      import('@electric-sql/pglite-socket'),
    ]);
    return { PGlite, pgcrypto, PGLiteSocketServer };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new ConfigError(
      'the embedded database needs the optional packages @electric-sql/pglite and @electric-sql/pglite-socket, which are not installed: install them (npm ci without --omit=optional), or set DATABASE_URL',
    );
  }
}

// Extended-protocol messages that leave a batch open until the client's Sync:
// Parse, Bind, Describe, Execute, Close, Flush.
const OPEN_BATCH = new Set(['P', 'B', 'D', 'E', 'C', 'H'].map((c) => c.charCodeAt(0)));

/**
 * pglite-socket runs one protocol message at a time from a shared queue and keeps a connection's
 * turn only while PGlite reports an open transaction. Between a client's Parse and its Sync none is
 * reported, so another connection's statements could run in between, replace the unnamed prepared
 * statement and fail the first one ("unnamed prepared statement does not exist"), seen at boot
 * while migrations run beside the readiness probes. Reporting the open batch as a transaction keeps
 * the turn with that connection until its Sync. (pglite-socket rolls back with exec('ROLLBACK') when
 * such a connection drops; that also ends the batch.)
 */
export function serializeExtendedBatches(db: PGlite): PGlite {
  let batchOpen = false;
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'isInTransaction') return () => batchOpen || target.isInTransaction();
      if (prop === 'execProtocolRawStream') {
        return async (message: Uint8Array, options: Parameters<PGlite['execProtocolRawStream']>[1]) => {
          try {
            return await target.execProtocolRawStream(message, options);
          } finally {
            batchOpen = OPEN_BATCH.has(message[0]);
          }
        };
      }
      if (prop === 'exec') {
        return (...args: Parameters<PGlite['exec']>) => {
          batchOpen = false;
          return target.exec(...args);
        };
      }
      // PGlite keeps its state in #private fields: call its methods on the instance, not the proxy.
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * PGlite's files must not be opened by two processes at once (both would write the same pages):
 * a second `npm start` on the same DATA_DIR stops with a clear message instead.
 */
function lockDataDir(dir: string): () => void {
  const lockFile = join(dir, 'pglite.pid');
  try {
    const pid = Number(readFileSync(lockFile, 'utf8').trim());
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new ConfigError(`the embedded database in ${dir} is in use by process ${pid}; stop it, or set DATA_DIR to another directory`);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // No lock file, or an unreadable one: take it.
  }
  writeFileSync(lockFile, String(process.pid));
  return () => rmSync(lockFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
