// Scenario 9: several replicas, as deploy/k8s runs them: two api processes (APP_ROLE=api) and two
// worker processes (APP_ROLE=worker) on one database and one queue; the senders spread deliveries
// over both apis. The transcript host answers slowly, so each worker holds WORKER_CONCURRENCY events
// at a time; one worker is SIGKILLed while more events are in flight than one worker can hold (so it
// holds some: the transcript requests it drops tell which). Its jobs keep their locks until they
// expire; the other worker's stalled-job check then takes them over. Every acknowledged event is
// processed once, and the api processes never answer 5xx (they do not depend on the workers).
import { readdir, readFile, readlink } from 'node:fs/promises';
import { Client } from 'pg';
import { createTestDatabase, queuePrefix, RunningService, sleep, startService, TestDatabase, waitFor } from '../helpers/service.js';
import {
  dropQueueKeys,
  FAST_RECOVERY_ENV,
  makeWorkload,
  peerEnv,
  Peers,
  report,
  settle,
  startLoad,
  startPeers,
  statusesBetween,
} from './harness.js';

const CONCURRENCY = 32;
const TRANSCRIPT_DELAY_MS = 500;

describe('reliability 9: two apis and two workers, one worker SIGKILLed holding jobs', () => {
  let db: TestDatabase;
  let peers: Peers;
  const services: RunningService[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    peers = await startPeers({ transcriptDelayMs: TRANSCRIPT_DELAY_MS });
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await dropQueueKeys(services[0]?.env.REDIS_URL, services[0]?.env.QUEUE_PREFIX);
    await peers?.close();
    await db?.drop();
  });

  it('finishes the killed worker’s jobs on the other worker once their locks expire, each once', async () => {
    const env = {
      ...FAST_RECOVERY_ENV,
      ...peerEnv(peers),
      DATABASE_URL: db.url,
      QUEUE_PREFIX: queuePrefix('rel'),
      WORKER_CONCURRENCY: String(CONCURRENCY),
      // Four services, the senders and the local Slack share this machine's cores: a Slack answer
      // can take seconds, and a post that times out after Slack took it is posted again (Slack has
      // no idempotency key). That is not this scenario's fault; the stuck-row sweep stays longer
      // than the claim lease (SLACK_TIMEOUT_MS + 30 s), as in FAST_RECOVERY_ENV.
      SLACK_TIMEOUT_MS: '10000',
      SWEEP_STUCK_AFTER_MS: '45000',
    };
    // The first applies the migrations; the others start together.
    const api1 = await startService({ ...env, APP_ROLE: 'api' });
    const [api2, worker1, worker2] = await Promise.all([
      startService({ ...env, APP_ROLE: 'api' }),
      startService({ ...env, APP_ROLE: 'worker' }),
      startService({ ...env, APP_ROLE: 'worker' }),
    ]);
    services.push(api1, api2, worker1, worker2);
    const apis = [api1.baseUrl, api2.baseUrl];

    const workload = makeWorkload({ keys: 1600, total: 2400, transcriptBaseUrl: peers.transcriptBaseUrl, seed: 9 });
    const started = Date.now();
    // Round robin over the apis, as a Service spreads connections; counted per api.
    const perApi = apis.map(() => 0);
    let turn = 0;
    const nextApi = () => {
      const i = turn++ % apis.length;
      perApi[i]++;
      return apis[i];
    };
    const load = startLoad(nextApi, workload.deliveries, {
      concurrency: 50,
      retryDelayMs: 200,
      deadlineMs: 80_000,
    });

    // Kill worker 1 once it is waiting on several transcripts: its connections to the transcript host
    // (its sockets in /proc, their ports in /proc/net/tcp) among the requests not answered yet.
    const transcriptPort = Number(new URL(peers.transcriptBaseUrl).port);
    const heldBy = async (pid: number) => {
      const inodes = new Set<string>();
      for (const fd of await readdir(`/proc/${pid}/fd`)) {
        const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode) inodes.add(inode);
      }
      let held = 0;
      for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 10 || !inodes.has(f[9]) || parseInt(f[2].split(':')[1], 16) !== transcriptPort) continue;
        if (peers.transcriptsPending.has(parseInt(f[1].split(':')[1], 16))) held++;
      }
      return held;
    };
    let heldAtKill = 0;
    await waitFor(async () => load.tally.acknowledged >= 500 && (heldAtKill = await heldBy(worker1.process.pid!)) >= 5, 60_000, 20);
    const inFlightAtKill = peers.transcriptsPending.size;
    const abortedBefore = peers.transcriptsAborted.length;
    await worker1.stop('SIGKILL');
    const killedAt = Date.now();
    await sleep(300);
    const orphaned = peers.transcriptsAborted.slice(abortedBefore);
    const orphanKeys = orphaned.map((session) => `interview.completed:${session}`);

    // How long until the other worker has finished the first and every event the killed one held
    // (they wait for their lock to expire, then queue behind the backlog on the one worker left).
    const client = new Client({ connectionString: db.url });
    await client.connect();
    const since = () => (Date.now() - killedAt) / 1000;
    let firstDone: number | undefined;
    const allDone = await waitFor(
      async () => {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM webhook_events WHERE idempotency_key = ANY($1) AND status = 'processed'`,
          [orphanKeys],
        );
        if (rows[0].n > 0) firstDone ??= since();
        return rows[0].n === orphanKeys.length && since();
      },
      60_000,
      100,
    ).finally(() => client.end());

    const tally = await load.done;
    const outcome = await settle(db.url, workload, peers, tally, { timeoutMs: 60_000, allKeys: true, quietMs: 3000 });
    const answers = statusesBetween(tally, started, Date.now());
    report(
      '9. two apis + two workers, one worker SIGKILLed holding jobs',
      outcome,
      {
        'answers to the senders': answers,
        'events in flight at the kill (both workers)': inFlightAtKill,
        'events the killed worker was processing': `${heldAtKill} waiting on their transcript at the kill; ${orphaned.length} transcript requests dropped by it`,
        "killed worker's events finished by the other worker": `first ${firstDone?.toFixed(1)} s, all ${allDone.toFixed(1)} s after the kill (lock ${FAST_RECOVERY_ENV.WORKER_LOCK_DURATION_MS} ms, stalled check every ${FAST_RECOVERY_ENV.WORKER_STALLED_INTERVAL_MS} ms)`,
        'whole run': `${((Date.now() - started) / 1000).toFixed(1)} s`,
        'slack posts': peers.slackPosts.length,
        'requests to api 1 / api 2': perApi.join(' / '),
      },
      [worker2.output(), api1.output()].join('\n'),
    );

    expect(orphaned.length).toBeGreaterThanOrEqual(heldAtKill);
    // The apis stayed up throughout: nothing but 2xx (a 5xx would be a broken invariant here).
    expect(Object.keys(answers).filter((status) => !status.startsWith('2'))).toEqual([]);
    expect(tally.gaveUp).toBe(0);
    expect(outcome.problems).toEqual([]);
    expect(outcome.lost).toBe(0);
    expect(outcome.duplicated).toBe(0);
    expect(outcome.processed).toBe(workload.keys.length);
  });
});
