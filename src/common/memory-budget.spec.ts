import { MemoryBudget } from './memory-budget.js';

/** A piece of work that runs until released, recording when it started. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    release,
    work: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('MemoryBudget', () => {
  it('runs reservations that fit at once and holds the rest until bytes are given back', async () => {
    const budget = new MemoryBudget(100);
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const c = gate(log, 'c');
    const runs = [budget.run(60, a.work), budget.run(40, b.work), budget.run(30, c.work)];
    await tick();
    expect(log).toEqual(['start a', 'start b']);
    expect(budget.reserved).toBe(100);
    b.release();
    await tick();
    expect(log).toEqual(['start a', 'start b', 'end b', 'start c']);
    expect(budget.reserved).toBe(90);
    a.release();
    c.release();
    await Promise.all(runs);
    expect(budget.reserved).toBe(0);
  });

  it('keeps arrival order: a small reservation does not overtake a waiting large one', async () => {
    const budget = new MemoryBudget(100);
    const log: string[] = [];
    const a = gate(log, 'a');
    const big = gate(log, 'big');
    const small = gate(log, 'small');
    const runs = [budget.run(50, a.work), budget.run(80, big.work), budget.run(10, small.work)];
    await tick();
    expect(log).toEqual(['start a']);
    a.release();
    await tick();
    expect(log).toEqual(['start a', 'end a', 'start big', 'start small']);
    big.release();
    small.release();
    await Promise.all(runs);
  });

  it('runs a reservation larger than the whole budget alone, and gives bytes back when the work fails', async () => {
    const budget = new MemoryBudget(100);
    await expect(budget.run(500, async () => budget.reserved)).resolves.toBe(100);
    await expect(budget.run(70, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(budget.reserved).toBe(0);
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new MemoryBudget(0)).toThrow(/positive/);
  });
});
