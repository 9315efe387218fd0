/**
 * Group commit: callers submit items one by one and get their own result. Items submitted in the
 * same turn of the event loop are flushed together (the flush waits for `setImmediate`, after the
 * I/O callbacks of that turn: the requests parsed together, the jobs whose claim answered together),
 * and items that arrive while `maxConcurrent` flushes are running go in the next one. No timer: at
 * low load an item waits one loop turn; under load, batches grow to `maxBatch`.
 */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Runs `flush` over `items`, one result per item. When the batch fails with an error `isolate`
 * accepts (one item's data, not the database's state: see isDataError), it is split in halves and
 * each half runs again, down to single items: the item that cannot be written fails alone, and every
 * other one is written by exactly one successful statement (a failed statement wrote nothing).
 * Any other error fails every item of the statement that met it.
 */
export async function flushIsolating<T, R>(
  items: T[],
  flush: (items: T[]) => Promise<R[]>,
  isolate: (err: unknown) => boolean,
): Promise<Array<Settled<R>>> {
  try {
    return (await flush(items)).map((value) => ({ ok: true, value }));
  } catch (error) {
    if (items.length <= 1 || !isolate(error)) return items.map(() => ({ ok: false, error }));
    const mid = Math.ceil(items.length / 2);
    const first = await flushIsolating(items.slice(0, mid), flush, isolate);
    return [...first, ...(await flushIsolating(items.slice(mid), flush, isolate))];
  }
}

export interface MicroBatcherOptions {
  maxBatch: number;
  maxConcurrent: number;
  /** Errors caused by one item's data: the batch is split so that only that item fails (flushIsolating). */
  isolate?: (err: unknown) => boolean;
}

export class MicroBatcher<T, R> {
  private pending: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private inFlight = 0;
  private idle: Array<() => void> = [];
  private scheduled = false;

  constructor(
    private readonly flushFn: (items: T[]) => Promise<R[]>,
    private readonly options: MicroBatcherOptions,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.drain();
        });
      }
    });
  }

  get size(): number {
    return this.pending.length + this.inFlight;
  }

  /** Resolves when nothing is queued or in flight (used on shutdown). */
  async onIdle(): Promise<void> {
    if (this.pending.length === 0 && this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private drain(): void {
    while (this.pending.length > 0 && this.inFlight < this.options.maxConcurrent) {
      const batch = this.pending.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.run(batch);
    }
  }

  private async run(batch: MicroBatcher<T, R>['pending']): Promise<void> {
    try {
      const items = batch.map((b) => b.item);
      const results = await flushIsolating(items, this.flushFn, this.options.isolate ?? (() => false));
      batch.forEach((b, i) => {
        const r = results[i];
        if (r.ok) b.resolve(r.value);
        else b.reject(r.error);
      });
    } finally {
      this.inFlight--;
      this.drain();
      if (this.pending.length === 0 && this.inFlight === 0) {
        for (const resolve of this.idle.splice(0)) resolve();
      }
    }
  }
}
