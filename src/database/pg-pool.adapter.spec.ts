import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { pgPoolOf } from './pg-pool.adapter.js';

// Guards the one place that reaches into TypeORM's driver: if TypeORM stops keeping its pg pool in
// driver.master, this fails and pg-pool.adapter.ts needs revisiting.
describe('pgPoolOf', () => {
  it("returns TypeORM's pg pool, on which a named statement runs", async () => {
    const dataSource = new DataSource({
      type: 'postgres',
      url: process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      extra: { max: 1 },
    });
    await dataSource.initialize();
    try {
      const pool = pgPoolOf(dataSource);
      expect(pool).toBeInstanceOf(Pool);
      const { rows } = await pool.query<{ one: number }>({ name: 'pg-pool-adapter-spec', text: 'SELECT 1 AS one', values: [] });
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await dataSource.destroy();
    }
  });
});
