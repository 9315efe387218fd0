/**
 * A weighted semaphore over bytes: work that holds large objects reserves their size first and
 * waits, in arrival order, while the reservations in force would exceed the budget. A single
 * reservation larger than the whole budget is clamped to it, so it runs alone rather than never.
 */
export class MemoryBudget {
  private used = 0;
  private readonly waiting: Array<{ bytes: number; grant: () => void }> = [];

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new Error(`memory budget must be positive, got ${capacity}`);
  }

  /** Bytes reserved now. */
  get reserved(): number {
    return this.used;
  }

  /** Runs `work` once `bytes` fit in the budget, and gives them back when it settles. */
  async run<T>(bytes: number, work: () => Promise<T>): Promise<T> {
    const weight = Math.min(Math.max(0, bytes), this.capacity);
    await this.acquire(weight);
    try {
      return await work();
    } finally {
      this.used -= weight;
      this.grantWaiting();
    }
  }

  private acquire(weight: number): Promise<void> {
    // Nobody ahead and room now: no wait. Otherwise in arrival order, so large reservations are not starved.
    if (this.waiting.length === 0 && this.used + weight <= this.capacity) {
      this.used += weight;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push({ bytes: weight, grant: resolve }));
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0].bytes <= this.capacity) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.grant();
    }
  }
}
