import { ConfigError, loadConfig } from '../config/configuration.js';

describe('loadConfig: embedded mode and queue backend', () => {
  it('runs embedded on the PostgreSQL queue when DATABASE_URL is unset outside production', () => {
    const c = loadConfig({ PORT: '3100' });
    expect(c.database).toMatchObject({
      url: '',
      embedded: true,
      preparedStatements: false,
      asyncWorkerCommits: false,
      poolMode: 'session',
    });
    expect(c.queue.backend).toBe('postgres');
    expect(c.queue.redisUrl).toBeUndefined();
    expect(c.webhook.secrets).toEqual([]); // generated under DATA_DIR by prepareLocalMode
    expect(c.app.dataDir).toBe('./data');
    // The embedded mode may fetch transcripts from its own dev route, and nothing else by default.
    expect(c.transcript.allowedHosts).toEqual(['127.0.0.1:3100', 'localhost:3100']);
  });

  it('stays on PostgreSQL in the embedded mode even when REDIS_URL is set, unless told otherwise', () => {
    expect(loadConfig({ REDIS_URL: 'redis://r:6379' }).queue.backend).toBe('postgres');
    expect(loadConfig({ REDIS_URL: 'redis://r:6379', QUEUE_BACKEND: 'redis' }).queue.backend).toBe('redis');
  });

  it('picks Redis when REDIS_URL is set with a DATABASE_URL, PostgreSQL otherwise', () => {
    const db = { DATABASE_URL: 'postgres://db/x', WEBHOOK_SECRET: 's' };
    expect(loadConfig({ ...db, REDIS_URL: 'redis://r:6379' }).queue).toMatchObject({ backend: 'redis', redisUrl: 'redis://r:6379' });
    expect(loadConfig(db).queue.backend).toBe('postgres');
    expect(loadConfig({ ...db, REDIS_URL: 'redis://r:6379', QUEUE_BACKEND: 'postgres' }).queue.backend).toBe('postgres');
    // Outside the embedded mode the transcript allowlist default stays empty (public https only).
    expect(loadConfig(db).transcript.allowedHosts).toEqual([]);
  });

  it('uses named (prepared) statements on a PostgreSQL server unless DATABASE_PREPARED_STATEMENTS=false', () => {
    const db = { DATABASE_URL: 'postgres://db/x', WEBHOOK_SECRET: 's' };
    expect(loadConfig(db).database.preparedStatements).toBe(true);
    expect(loadConfig({ ...db, DATABASE_PREPARED_STATEMENTS: 'false' }).database.preparedStatements).toBe(false);
    expect(() => loadConfig({ ...db, DATABASE_PREPARED_STATEMENTS: 'maybe' })).toThrow(/DATABASE_PREPARED_STATEMENTS/);
  });

  it('commits the worker bookkeeping asynchronously on a PostgreSQL server unless DATABASE_ASYNC_WORKER_COMMITS=false', () => {
    const db = { DATABASE_URL: 'postgres://db/x', WEBHOOK_SECRET: 's' };
    expect(loadConfig(db).database.asyncWorkerCommits).toBe(true);
    expect(loadConfig({ ...db, DATABASE_ASYNC_WORKER_COMMITS: 'false' }).database.asyncWorkerCommits).toBe(false);
  });

  it('refuses to split roles over an embedded database', () => {
    expect(() => loadConfig({ APP_ROLE: 'worker' })).toThrow(/APP_ROLE=worker needs DATABASE_URL/);
  });

  it('refuses QUEUE_BACKEND=redis without REDIS_URL, and an unknown backend', () => {
    expect(() => loadConfig({ QUEUE_BACKEND: 'redis' })).toThrow(/QUEUE_BACKEND=redis needs REDIS_URL/);
    expect(() => loadConfig({ QUEUE_BACKEND: 'kafka' })).toThrow(ConfigError);
  });

  const SECRET = 's'.repeat(32);

  it('keeps production strict: DATABASE_URL and WEBHOOK_SECRET are required', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', WEBHOOK_SECRET: SECRET })).toThrow(/DATABASE_URL is required in production/);
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x' })).toThrow(/WEBHOOK_SECRET is required/);
    const c = loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x?sslmode=verify-full', WEBHOOK_SECRET: SECRET });
    expect(c.database.embedded).toBe(false);
    expect(c.transcript.allowedHosts).toEqual([]);
    expect(c.warnings).toEqual([]);
  });

  it('refuses guessable secrets in production, naming the variable, and warns below 32 characters', () => {
    const base = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x?sslmode=verify-full' };
    expect(() => loadConfig({ ...base, WEBHOOK_SECRET: 'x' })).toThrow(/^WEBHOOK_SECRET is 1 characters/);
    expect(() => loadConfig({ ...base, WEBHOOK_SECRET: `${SECRET},short` })).toThrow(/^WEBHOOK_SECRET entry 2 is 5 characters/);
    expect(() => loadConfig({ ...base, WEBHOOK_SECRET: SECRET, ADMIN_TOKEN: 'a'.repeat(23) })).toThrow(/^ADMIN_TOKEN is 23 characters/);
    expect(loadConfig({ ...base, WEBHOOK_SECRET: 'x'.repeat(16) }).warnings).toEqual([
      expect.stringMatching(/^WEBHOOK_SECRET is 16 characters/),
    ]);
    expect(loadConfig({ ...base, WEBHOOK_SECRET: SECRET, ADMIN_TOKEN: 'a1'.repeat(12) }).admin.token).toHaveLength(24);
    // Outside production, short secrets are fine (tests, demos).
    expect(() => loadConfig({ WEBHOOK_SECRET: 'x', ADMIN_TOKEN: 'y' })).not.toThrow();
  });

  it('listens on loopback in the embedded mode unless HOST says otherwise, on every interface elsewhere', () => {
    expect(loadConfig({}).app.host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).app.host).toBe('0.0.0.0');
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x' }).app.host).toBe('0.0.0.0');
  });
});
