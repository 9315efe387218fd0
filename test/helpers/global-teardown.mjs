// Jest global teardown (e2e and reliability): removes the queue keys that the services started by
// the tests left in the shared Redis, under the random prefixes test/helpers/service.ts and the
// scenarios give them (test-1a2b3c4d:webhooks:…). Keys under any other prefix are left alone.
import { dropKeys } from '../../scripts/local-services.mjs';

const TEST_PREFIX = /^(test|test-kill|ops-cut|ops-roles|rel)-[0-9a-f]{6,8}:/;

export default async function globalTeardown() {
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  for (const pattern of ['test-*', 'ops-*', 'rel-*']) await dropKeys(redisUrl, pattern, (key) => TEST_PREFIX.test(key));
}
