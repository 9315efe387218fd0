// Helpers for the scripts and test suites that start the service against this machine's PostgreSQL
// and Redis: a free loopback port, and removing queue keys by prefix (the benchmark's fresh
// QUEUE_PREFIX after a run, the random prefixes the test suites give each service they start).
// Plain JavaScript so that bench/ and scripts/ can use it without a build; local-services.d.mts
// types it for the TypeScript tests.
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** A TCP port free on 127.0.0.1 right now (also used as a port nothing listens on). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Unlinks every key matching the SCAN `pattern` whose name also passes `keep` (default: all). */
export async function dropKeys(redisUrl, pattern, keep = () => true) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let dropped = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      const doomed = keys.filter(keep);
      if (doomed.length) dropped += await redis.unlink(...doomed);
      cursor = next;
    } while (cursor !== '0');
  } catch (err) {
    console.error(`could not remove the ${pattern} keys from Redis: ${err.message}`);
  } finally {
    redis.disconnect();
  }
  return dropped;
}
