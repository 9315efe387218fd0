import { Redis } from 'ioredis';
import type { TestDatabase } from './service.js';

/** A finding of a marker string where personal data must not be: `where` names the table and column, or the key. */
export interface Leak {
  where: string;
  marker: string;
}

/**
 * Every text-like column (text, varchar, json, jsonb, arrays of them) of every table in the given
 * schemas that holds one of the markers: not only the columns one expects, so a new column cannot hide.
 */
export async function scanTables(db: TestDatabase, markers: string[], schemas = ['public', 'bullmq']): Promise<Leak[]> {
  const columns = await db.query<{ schema: string; table: string; column: string }>(
    `SELECT c.table_schema AS schema, c.table_name AS table, c.column_name AS column
     FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
     WHERE c.table_schema = ANY($1) AND t.table_type = 'BASE TABLE'
       AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY') OR c.udt_name IN ('text', 'varchar', 'jsonb', 'json'))`,
    [schemas],
  );
  const leaks: Leak[] = [];
  for (const { schema, table, column } of columns) {
    for (const marker of markers) {
      const [{ n }] = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${ident(schema)}.${ident(table)} WHERE ${ident(column)}::text ILIKE $1`,
        [`%${marker}%`],
      );
      if (n > 0) leaks.push({ where: `${schema}.${table}.${column} (${n} rows)`, marker });
    }
  }
  return leaks;
}

/** Every key under the queue's prefix in Redis, whatever its type, that holds one of the markers. */
export async function scanRedis(url: string, prefix: string, markers: string[]): Promise<Leak[]> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const leaks: Leak[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const text = JSON.stringify(await valueOf(redis, key));
        for (const marker of markers) if (text.toLowerCase().includes(marker.toLowerCase())) leaks.push({ where: `redis ${key}`, marker });
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return leaks;
}

/** Lines of output that hold one of the markers. */
export function scanOutput(output: string, markers: string[]): Leak[] {
  return output
    .split('\n')
    .flatMap((line) =>
      markers
        .filter((m) => line.toLowerCase().includes(m.toLowerCase()))
        .map((marker) => ({ where: `log: ${line.slice(0, 300)}`, marker })),
    );
}

async function valueOf(redis: Redis, key: string): Promise<unknown> {
  switch (await redis.type(key)) {
    case 'string':
      return redis.get(key);
    case 'hash':
      return redis.hgetall(key);
    case 'list':
      return redis.lrange(key, 0, -1);
    case 'set':
      return redis.smembers(key);
    case 'zset':
      return redis.zrange(key, 0, -1);
    case 'stream':
      return redis.xrange(key, '-', '+');
    default:
      return null;
  }
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
