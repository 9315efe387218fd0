// What the failover scenarios (6-sentinel, 7-cluster) measure beyond the ledger: how the senders
// fared from the moment the primary died until deliveries were acknowledged again.
import { LoadTally } from './harness.js';

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
