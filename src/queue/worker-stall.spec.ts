import { isStalled, WorkerObservation } from './worker-stall.js';

const base: WorkerObservation = { now: 100_000, lastProgressAt: 60_000, waiting: 10, inFlight: 0, blockingStatus: 'ready', paused: false };

describe('isStalled: the stalled-worker detector', () => {
  it('flags a worker that took nothing for the threshold while jobs wait, its blocking connection down or nothing running', () => {
    expect(isStalled({ ...base, inFlight: 3, blockingStatus: 'reconnecting' }, 30_000)).toBe(true);
    expect(isStalled({ ...base, inFlight: 3, blockingStatus: undefined }, 30_000)).toBe(true);
    // The blocking connection looks ready but nothing runs and work waits: the silent stall.
    expect(isStalled({ ...base, inFlight: 0 }, 30_000)).toBe(true);
  });

  it('leaves alone a worker that is busy, idle, paused, recently active, or when nothing is known', () => {
    expect(isStalled({ ...base, inFlight: 32 }, 30_000)).toBe(false); // all slots busy with long jobs
    expect(isStalled({ ...base, waiting: 0, blockingStatus: 'reconnecting' }, 30_000)).toBe(false);
    expect(isStalled({ ...base, waiting: undefined }, 30_000)).toBe(false); // the queue did not answer
    expect(isStalled({ ...base, paused: true }, 30_000)).toBe(false);
    expect(isStalled({ ...base, lastProgressAt: 80_000, blockingStatus: 'end' }, 30_000)).toBe(false);
    expect(isStalled(base, 0)).toBe(false); // WORKER_WATCHDOG_MS=0: off
  });
});
