import { ConfigError, loadConfig } from './configuration.js';

const SECRET = 'a-webhook-secret-of-32-characters-ok';
const PRODUCTION = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db.internal/webhooks?sslmode=verify-full', WEBHOOK_SECRET: SECRET };

describe('loadConfig: production rules', () => {
  it('treats NODE_ENV differing from production only by case or spaces as production, with a warning', () => {
    for (const env of ['Production', 'PRODUCTION', 'production ', ' production\t']) {
      expect(() => loadConfig({ NODE_ENV: env, WEBHOOK_SECRET: SECRET })).toThrow(/DATABASE_URL is required in production/);
      const c = loadConfig({ ...PRODUCTION, NODE_ENV: env });
      expect(c.app).toMatchObject({ production: true, env: 'production' });
      expect(c.warnings).toContain(`NODE_ENV is ${JSON.stringify(env)}: treated as production`);
    }
    expect(loadConfig({ ...PRODUCTION, NODE_ENV: 'production' }).warnings).toEqual([]);
    expect(loadConfig({ ...PRODUCTION, NODE_ENV: 'prod' }).app.production).toBe(false);
  });

  it('stops the boot on an admin token made of one repeated character, or equal to a webhook secret', () => {
    const boot = (env: Record<string, string>) => () => loadConfig({ ...PRODUCTION, ...env });
    expect(boot({ ADMIN_TOKEN: 'a'.repeat(24) })).toThrow(
      new ConfigError('ADMIN_TOKEN is one character repeated: use a random token (e.g. openssl rand -hex 24)'),
    );
    expect(boot({ ADMIN_TOKENS: `ops:${'7'.repeat(30)}` })).toThrow(/ADMIN_TOKENS entry ops is one character repeated/);
    expect(boot({ ADMIN_TOKEN: SECRET })).toThrow(/ADMIN_TOKEN is the same as a WEBHOOK_SECRET entry/);
    expect(boot({ WEBHOOK_SECRET: `old-secret-of-at-least-sixteen,${SECRET}`, ADMIN_TOKENS: `ops:${SECRET}` })).toThrow(
      /ADMIN_TOKENS entry ops is the same as a WEBHOOK_SECRET entry/,
    );
    // Outside production (tests, demos) any token goes.
    expect(() => loadConfig({ ADMIN_TOKEN: 'x'.repeat(30) })).not.toThrow();
    expect(boot({ ADMIN_TOKEN: 'a-random-enough-admin-token-0123' })).not.toThrow();
  });

  it('warns once per setting that crosses the network in plain text, in production only', () => {
    const c = loadConfig({
      ...PRODUCTION,
      DATABASE_URL: 'postgres://u:p@db.internal:5432/webhooks',
      REDIS_URL: 'redis://cache.internal:6379',
      SLACK_WEBHOOK_URL: 'http://hooks.example/T0/B0/x',
    });
    expect(c.warnings).toEqual([
      'DATABASE_URL connects to PostgreSQL without TLS: add sslmode=verify-full (or require) to the URL',
      'REDIS_URL connects to Redis without TLS: use a rediss:// URL',
      'SLACK_WEBHOOK_URL is http://: use the https:// URL Slack gives',
    ]);
    const encrypted = loadConfig({
      ...PRODUCTION,
      DATABASE_URL: 'postgres://db.internal/webhooks?sslmode=require',
      REDIS_URL: 'rediss://cache.internal:6380',
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/x',
    });
    expect(encrypted.warnings).toEqual([]);
    // A sidecar on loopback does not cross the network.
    expect(loadConfig({ ...PRODUCTION, DATABASE_URL: 'postgres://127.0.0.1/w', REDIS_URL: 'redis://localhost:6379' }).warnings).toEqual([]);
    expect(loadConfig({ DATABASE_URL: 'postgres://db.internal/w', REDIS_URL: 'redis://cache.internal:6379' }).warnings).toEqual([]);
  });
});
