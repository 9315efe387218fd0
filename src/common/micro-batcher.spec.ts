import { MicroBatcher } from './micro-batcher.js';

describe('MicroBatcher', () => {
  it('flushes the items of one loop turn together, and those that arrive during a flush in the next', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new MicroBatcher<number, number>(
      async (items) => {
        batches.push(items);
        if (batches.length === 1) await gate;
        return items.map((i) => i * 10);
      },
      { maxBatch: 100, maxConcurrent: 1 },
    );
    const first = [1, 2].map((i) => b.submit(i));
    await new Promise((r) => setImmediate(r)); // the first flush is running (held at the gate)
    const rest = [3, 4, 5].map((i) => b.submit(i));
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1, 2]]);
    release();
    expect(await Promise.all([...first, ...rest])).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([
      [1, 2],
      [3, 4, 5],
    ]);
  });

  it('caps batch size and rejects every caller of a failed batch', async () => {
    const sizes: number[] = [];
    const b = new MicroBatcher<number, number>(
      async (items) => {
        sizes.push(items.length);
        if (items.includes(3)) throw new Error('boom');
        return items;
      },
      { maxBatch: 2, maxConcurrent: 1 },
    );
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => b.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2);
    await b.onIdle();
    expect(b.size).toBe(0);
  });
});
