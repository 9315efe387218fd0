// Scenario 1: 5,000 deliveries over 3,000 keys from 50 concurrent senders, transcript host and Slack
// as local servers. Every key is processed exactly once; one Slack post per completed interview.
import { createTestDatabase, RunningService, startService, TestDatabase } from '../helpers/service.js';
import { dropQueueKeys, FAST_RECOVERY_ENV, makeWorkload, peerEnv, Peers, report, settle, startLoad, startPeers } from './harness.js';

describe('reliability 1: load with duplicates', () => {
  let db: TestDatabase;
  let peers: Peers;
  let svc: RunningService | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    peers = await startPeers();
  });

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await dropQueueKeys(svc?.env.REDIS_URL, svc?.env.QUEUE_PREFIX);
    await peers?.close();
    await db?.drop();
  });

  it('processes every key once, one Slack post per interview', async () => {
    svc = await startService({ ...FAST_RECOVERY_ENV, ...peerEnv(peers), DATABASE_URL: db.url });
    const workload = makeWorkload({ keys: 3000, total: 5000, transcriptBaseUrl: peers.transcriptBaseUrl });
    const started = Date.now();
    const load = startLoad(() => svc!.baseUrl, workload.deliveries, { concurrency: 50, deadlineMs: 90_000 });
    const tally = await load.done;
    const loadSeconds = (Date.now() - started) / 1000;
    const outcome = await settle(db.url, workload, peers, tally, { timeoutMs: 90_000, allKeys: true });
    const total = (Date.now() - started) / 1000;
    report(
      '1. 5,000 deliveries / 3,000 keys / 50 senders',
      outcome,
      {
        timing: `load ${loadSeconds.toFixed(1)} s, all processed after ${total.toFixed(1)} s`,
        'slack posts': peers.slackPosts.length,
      },
      svc.output(),
    );

    expect(svc.process.exitCode).toBeNull();
    expect(outcome.problems).toEqual([]);
    expect(outcome.lost).toBe(0);
    expect(outcome.duplicated).toBe(0);
    expect(outcome.acknowledgedKeys).toBe(workload.keys.length);
    expect(outcome.processed).toBe(workload.keys.length);
    expect(peers.slackPosts.length).toBe(workload.keys.length / 2);
  });
});
