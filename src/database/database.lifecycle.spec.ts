import { DataSource } from 'typeorm';
import { DatabaseLifecycle } from './database.lifecycle.js';

describe('DatabaseLifecycle', () => {
  it('ends its retry loop at shutdown without waiting out the pause between attempts', async () => {
    // PostgreSQL refuses the first attempt: the loop pauses (2 s) before the next one.
    let attempts = 0;
    const dataSource = {
      isInitialized: false,
      initialize: () => {
        attempts++;
        return Promise.reject(new Error('Connection terminated'));
      },
    } as unknown as DataSource;
    const config = { get: () => ({ embedded: true, poolMode: 'session' }) } as unknown as ConstructorParameters<
      typeof DatabaseLifecycle
    >[1];
    const lifecycle = new DatabaseLifecycle(dataSource, config);
    lifecycle.onApplicationBootstrap();
    await new Promise((r) => setImmediate(r));

    // The pause's timer does not hold the process open, so a shutdown that awaited it would be left
    // unsettled (Node exits 13); it must settle at once instead.
    const settled = await Promise.race([
      lifecycle.onApplicationShutdown().then(() => 'settled'),
      new Promise((r) => setTimeout(r, 1000, 'still waiting')),
    ]);
    expect(settled).toBe('settled');
    expect(attempts).toBe(1);
  });
});
