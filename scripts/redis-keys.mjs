// Removes queue keys from a Redis by key prefix: the benchmark's fresh QUEUE_PREFIX after a run,
// and the random prefixes the test suites give each service they start (Jest's global teardown).
import { Redis } from 'ioredis';

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
