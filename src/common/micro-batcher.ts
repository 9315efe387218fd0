/**
 * Group commit: callers submit items one by one and get their own result. Items submitted in the
 * same turn of the event loop are flushed together (the flush waits for `setImmediate`, after the
 * I/O callbacks of that turn: the requests parsed together, the jobs whose claim answered together),
 * and items that arrive while `maxConcurrent` flushes are running go in the next one. No timer: at
 * low load an item waits one loop turn; under load, batches grow to `maxBatch`.
 */
export class MicroBatcher<T, R> {
  private pending: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private inFlight = 0;
  private idle: Array<() => void> = [];
  private scheduled = false;

  constructor(
    private readonly flushFn: (items: T[]) => Promise<R[]>,
    private readonly options: { maxBatch: number; maxConcurrent: number },
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
      const results = await this.flushFn(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i]));
    } catch (err) {
      for (const b of batch) b.reject(err);
    } finally {
      this.inFlight--;
      this.drain();
      if (this.pending.length === 0 && this.inFlight === 0) {
        for (const resolve of this.idle.splice(0)) resolve();
      }
    }
  }
}
