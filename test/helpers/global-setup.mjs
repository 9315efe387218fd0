// Jest global setup (e2e and reliability): one id for this test run, inherited by every test
// process. The queue prefixes the suites give the services they start carry it (queuePrefix in
// test/helpers/service.ts), so the teardown removes this run's keys and never another run's
// sharing the same Redis.
import { randomBytes } from 'node:crypto';

export default async function globalSetup() {
  process.env.TEST_RUN_ID ??= randomBytes(3).toString('hex');
}
