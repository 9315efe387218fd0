// Scenario 2: the service is SIGKILLed in the middle of the load and started again (same database,
// same queue prefix, same port). Every event acknowledged before the kill is processed after the
// restart, none twice (rows or Slack posts).
import {
  createTestDatabase,
  freePort,
  queuePrefix,
  RunningService,
  sleep,
  startService,
  TestDatabase,
  waitFor,
} from '../helpers/service.js';
import {
  dropQueueKeys,
  FAST_RECOVERY_ENV,
  expectRecovery,
  makeWorkload,
  peerEnv,
  Peers,
  report,
  settle,
  startLoad,
  startPeers,
} from './harness.js';

describe('reliability 2: SIGKILL mid-load', () => {
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

  it('processes every event acknowledged before the kill, once', async () => {
    const env = {
      ...FAST_RECOVERY_ENV,
      ...peerEnv(peers),
      DATABASE_URL: db.url,
      QUEUE_PREFIX: queuePrefix('rel'),
      PORT: String(await freePort()),
    };
    svc = await startService(env);
    const baseUrl = svc.baseUrl;
    const workload = makeWorkload({ keys: 3000, total: 5000, transcriptBaseUrl: peers.transcriptBaseUrl, seed: 2 });
    const load = startLoad(() => baseUrl, workload.deliveries, { concurrency: 50, retryDelayMs: 200, deadlineMs: 100_000 });

    await waitFor(async () => load.tally.acknowledged >= 1500, 90_000, 20);
    await svc.stop('SIGKILL');
    const ackedBeforeKill = new Set(load.tally.acknowledgedKeys);
    const killedAt = Date.now();
    await sleep(500);
    svc = await startService(env);
    const downSeconds = (Date.now() - killedAt) / 1000;
    await expectRecovery(load, killedAt, () => svc!.output());

    const tally = await load.done;
    const outcome = await settle(db.url, workload, peers, tally, { timeoutMs: 60_000, allKeys: true, quietMs: 4000 });
    const notProcessedAfterRestart = [...ackedBeforeKill].filter((k) => outcome.lostKeys.includes(k));
    report(
      '2. SIGKILL mid-load, restart',
      outcome,
      {
        'acknowledged before the kill': `${ackedBeforeKill.size} keys, ${notProcessedAfterRestart.length} of them not processed`,
        'service down': `${downSeconds.toFixed(1)} s (senders retried)`,
        'slack posts': peers.slackPosts.length,
      },
      svc.output(),
    );

    expect(notProcessedAfterRestart).toEqual([]);
    expect(outcome.problems).toEqual([]);
    expect(outcome.lost).toBe(0);
    expect(outcome.duplicated).toBe(0);
    expect(outcome.processed).toBe(workload.keys.length);
  });
});
