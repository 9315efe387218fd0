// Jest global teardown (e2e and reliability): removes the queue keys that the services started by
// this run left in the shared Redis, under the prefixes queuePrefix() gave them
// (tr<run id>-<kind>-<random>:webhooks:…). Other runs' keys are left alone.
import { dropKeys } from '../../scripts/local-services.mjs';

export default async function globalTeardown() {
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const run = process.env.TEST_RUN_ID;
  if (run) await dropKeys(redisUrl, `tr${run}-*`);
}
