import { ConfigError, loadConfig } from '../config/configuration.js';

describe('loadConfig: embedded mode and queue backend', () => {
  it('runs embedded on the PostgreSQL queue when DATABASE_URL is unset outside production', () => {
    const c = loadConfig({ PORT: '3100' });
    expect(c.database).toEqual({ url: '', embedded: true, preparedStatements: false });
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

  it('refuses to split roles over an embedded database', () => {
    expect(() => loadConfig({ APP_ROLE: 'worker' })).toThrow(/APP_ROLE=worker needs DATABASE_URL/);
  });

  it('refuses QUEUE_BACKEND=redis without REDIS_URL, and an unknown backend', () => {
    expect(() => loadConfig({ QUEUE_BACKEND: 'redis' })).toThrow(/QUEUE_BACKEND=redis needs REDIS_URL/);
    expect(() => loadConfig({ QUEUE_BACKEND: 'kafka' })).toThrow(ConfigError);
  });

  it('keeps production strict: DATABASE_URL and WEBHOOK_SECRET are required', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', WEBHOOK_SECRET: 's' })).toThrow(/DATABASE_URL is required in production/);
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x' })).toThrow(/WEBHOOK_SECRET is required/);
    const c = loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', WEBHOOK_SECRET: 's' });
    expect(c.database.embedded).toBe(false);
    expect(c.transcript.allowedHosts).toEqual([]);
  });
});
