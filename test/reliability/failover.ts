// The failover scenarios (6-sentinel, 7-cluster): the same load, fault and ledger, with the Redis
// topology's own way of naming, killing and replacing the primary; and what they measure beyond the
// ledger: how the senders fared from the moment the primary died until deliveries were acknowledged
// again.
import { waitFor } from '../../scripts/local-services.mjs';
import type { RunningService } from '../helpers/service.js';
import { expectRecovery, LoadTally, makeWorkload, Peers, report, settle, startLoad, statusesBetween } from './harness.js';

export interface FailoverFigures {
  /** 503 answers (and requests without an answer) from the kill on. */
  refused: number;
  /** Seconds from the kill to the last refused delivery: after it, every delivery was acknowledged. */
  secondsToAccept: number;
}

export function failoverFigures(tally: LoadTally, killedAt: number): FailoverFigures {
  const refusedAttempts = tally.attempts.filter((a) => a.at >= killedAt && (a.status === 503 || a.status === 0));
  const last = refusedAttempts.reduce((m, a) => Math.max(m, a.at), killedAt);
  return { refused: refusedAttempts.length, secondsToAccept: Math.round((last - killedAt) / 100) / 10 };
}

export interface Failover<P> {
  /** The ledger's title. */
  title: string;
  /** The label of the seconds from the kill until a replica took over. */
  promotedLabel: string;
  seed: number;
  /** The primary now, as the topology names it (undefined while none answers). */
  primary(): P | undefined;
  /** SIGKILLs that primary. */
  kill(primary: P): Promise<void>;
}

/**
 * Runs a failover scenario against `svc` (already started on the topology): 3,500 deliveries over
 * 2,000 keys; after 1,000 acknowledgements the primary is SIGKILLed; the service must accept
 * deliveries again within 30 s, in the same process, and end with nothing lost or done twice.
 * Prints the ledger; returns the primary that took over.
 */
export async function runFailover<P>(svc: RunningService, databaseUrl: string, peers: Peers, failover: Failover<P>): Promise<P> {
  const workload = makeWorkload({ keys: 2000, total: 3500, transcriptBaseUrl: peers.transcriptBaseUrl, seed: failover.seed });
  const started = Date.now();
  const load = startLoad(() => svc.baseUrl, workload.deliveries, { concurrency: 50, retryDelayMs: 200, deadlineMs: 100_000 });

  await waitFor(async () => load.tally.acknowledged >= 1000, 90_000, 20);
  const oldPrimary = failover.primary()!;
  const killedAt = Date.now();
  await failover.kill(oldPrimary);
  const promoted = await waitFor(
    async () => {
      const now = failover.primary();
      return now !== undefined && now !== oldPrimary && { now };
    },
    30_000,
    100,
  );
  const promotedAfter = (Date.now() - killedAt) / 1000;
  expect(promoted).not.toBe(false); // waitFor answers false when no replica took over within 30 s
  await expectRecovery(load, Date.now(), () => svc.output());

  const tally = await load.done;
  const outcome = await settle(databaseUrl, workload, peers, tally, { timeoutMs: 60_000, allKeys: true, quietMs: 3000 });
  const figures = failoverFigures(tally, killedAt);
  const during = statusesBetween(tally, killedAt, killedAt + figures.secondsToAccept * 1000 + 200);
  report(
    failover.title,
    outcome,
    {
      [failover.promotedLabel]: promotedAfter,
      'refused (503 or no answer) after the kill': figures.refused,
      'seconds from the kill until every delivery was accepted again': figures.secondsToAccept,
      'answers from the kill to recovery': during,
      'scenario duration (s)': Math.round((Date.now() - started) / 1000),
    },
    svc.output(),
  );

  expect(svc.process.exitCode).toBeNull(); // the same process followed the new primary
  expect(Object.keys(during).filter((s) => !['503', '200', 'no answer'].includes(s))).toEqual([]);
  expect(outcome.problems).toEqual([]);
  expect(outcome.lost).toBe(0);
  expect(outcome.duplicated).toBe(0);
  expect(outcome.processed).toBe(workload.keys.length);
  return (promoted as { now: P }).now;
}
