// The stalled-worker detector of WorkerWatchdog (worker-watchdog.ts), pure so that it is tested alone.

/** What the watchdog sees of a worker at one tick. */
export interface WorkerObservation {
  now: number;
  /** When the worker last took a job (or started, or was restarted). */
  lastProgressAt: number;
  /** Jobs waiting in the queue (undefined: the queue did not answer, so nothing is known). */
  waiting: number | undefined;
  /** The worker's jobs in progress. */
  inFlight: number;
  /** The status of the worker's blocking connection (ioredis: `ready` when usable). */
  blockingStatus: string | undefined;
  paused: boolean;
}

/**
 * A worker is stalled when jobs wait, it has taken none for `thresholdMs`, and either its blocking
 * connection (BZPOPMIN's) is not ready or it runs nothing at all: with a free slot and work waiting a
 * live worker takes a job within a second. This is the silent stall BullMQ's users report after a
 * Sentinel or ElastiCache failover (bullmq issues 648, 3088, 4378, 4585): the main connection answers
 * while the blocking one is dead. A busy worker (all slots taken by long jobs) is not stalled.
 */
export function isStalled(o: WorkerObservation, thresholdMs: number): boolean {
  if (thresholdMs <= 0 || o.paused || o.waiting === undefined || o.waiting === 0) return false;
  if (o.now - o.lastProgressAt < thresholdMs) return false;
  return o.blockingStatus !== 'ready' || o.inFlight === 0;
}
