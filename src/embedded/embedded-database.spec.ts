import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedDatabase, startEmbeddedDatabase } from './embedded-database.js';

// Raw frontend messages, to hold an extended-protocol batch open between Parse and Sync exactly as
// a busy connection does, which the `pg` driver never exposes.
const cstr = (s: string) => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
const msg = (type: string, body: Buffer) => {
  const b = Buffer.alloc(5 + body.length);
  b.write(type, 0);
  b.writeInt32BE(4 + body.length, 1);
  body.copy(b, 5);
  return b;
};
const startup = () => {
  const body = Buffer.concat([
    Buffer.from([0, 3, 0, 0]),
    cstr('user'),
    cstr('postgres'),
    cstr('database'),
    cstr('postgres'),
    Buffer.from([0]),
  ]);
  const b = Buffer.alloc(4 + body.length);
  b.writeInt32BE(4 + body.length, 0);
  body.copy(b, 4);
  return b;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startEmbeddedDatabase', () => {
  let dir: string;
  let db: EmbeddedDatabase;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wh-pglite-'));
    db = await startEmbeddedDatabase(dir);
  }, 120_000);

  afterAll(async () => {
    await db?.stop();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('serves PostgreSQL to the pg driver, with pgcrypto and the bullmq schema on the search path', async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query(`SELECT current_setting('search_path') AS path, gen_random_uuid() AS id, current_schema() AS schema`);
      expect(rows[0]).toMatchObject({ path: 'public, bullmq', schema: 'public', id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      expect((await c.query(`SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'`)).rows).toHaveLength(1);
    } finally {
      await c.end();
    }
  });

  it("keeps a connection's Parse…Sync batch whole while another connection runs a transaction", async () => {
    const url = new URL(db.url);
    const raw = connect(Number(url.port), url.hostname);
    let received = Buffer.alloc(0);
    raw.on('data', (d) => (received = Buffer.concat([received, d])));
    await new Promise((r) => raw.once('connect', r));
    raw.write(startup());
    await sleep(300);
    received = Buffer.alloc(0);
    raw.write(msg('P', Buffer.concat([cstr(''), cstr(`SELECT 'batch-result'::text`), Buffer.from([0, 0])])));
    await sleep(100);

    const other = new Client({ connectionString: db.url });
    const otherDone = (async () => {
      await other.connect();
      await other.query('BEGIN');
      await other.query(`SELECT 'other'::text`);
      await other.query('COMMIT');
    })();
    await sleep(300);
    raw.write(
      Buffer.concat([
        msg('B', Buffer.concat([cstr(''), cstr(''), Buffer.alloc(6)])),
        msg('E', Buffer.concat([cstr(''), Buffer.alloc(4)])),
        msg('S', Buffer.alloc(0)),
      ]),
    );
    await otherDone;
    await other.end();
    await sleep(200);
    raw.destroy();
    const text = received.toString('latin1');
    expect(text).not.toContain('does not exist');
    expect(text).toContain('batch-result');
  });

  it('refuses a DATA_DIR that another live process holds', async () => {
    const other = mkdtempSync(join(tmpdir(), 'wh-pglite-locked-'));
    try {
      writeFileSync(join(other, 'pglite.pid'), String(process.ppid));
      await expect(startEmbeddedDatabase(other)).rejects.toThrow(/in use by process/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
