import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './configuration.js';
import { postgresTls } from './postgres-tls.js';

const dir = mkdtempSync(join(tmpdir(), 'pg-tls-spec-'));
const CA = join(dir, 'ca.crt');
const NOT_PEM = join(dir, 'garbage.crt');
beforeAll(() => {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=spec CA', '-keyout', join(dir, 'ca.key'), '-out', CA],
    {
      stdio: 'ignore',
    },
  );
  writeFileSync(NOT_PEM, 'not a certificate\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const URL_BASE = 'postgres://app:p%40ss@db.internal:5432/webhooks';

describe('postgresTls: libpq sslmode semantics', () => {
  it('verify-full checks the CA and the host name, and takes the TLS parameters out of the URL', () => {
    const tls = postgresTls(`${URL_BASE}?sslmode=verify-full&sslrootcert=${CA}&application_name=x`, 'DATABASE_URL');
    expect(tls.mode).toBe('verify-full');
    expect(tls.connectionString).toBe(`${URL_BASE}?application_name=x`);
    expect(tls.ssl).toMatchObject({ rejectUnauthorized: true, ca: expect.stringContaining('BEGIN CERTIFICATE') });
    expect(tls.ssl && tls.ssl.checkServerIdentity).toBeUndefined();
    expect(tls.summary).toBe(`verify-full (CA ${CA}, hostname checked)`);
    expect(postgresTls(`${URL_BASE}?sslmode=verify-full`, 'DATABASE_URL').summary).toBe("verify-full (the system's CAs, hostname checked)");
  });

  it('verify-ca checks the CA only; require encrypts without checks, or as verify-ca with a CA', () => {
    const ca = postgresTls(`${URL_BASE}?sslmode=verify-ca&sslrootcert=${CA}`, 'DATABASE_URL');
    expect(ca.ssl).toMatchObject({ rejectUnauthorized: true, checkServerIdentity: expect.any(Function) });
    expect(ca.summary).toBe(`verify-ca (CA ${CA}, hostname not checked)`);
    const req = postgresTls(`${URL_BASE}?sslmode=require`, 'DATABASE_URL');
    expect(req.ssl).toEqual({ rejectUnauthorized: false });
    expect(req.summary).toBe('require (encrypted, certificate not verified)');
    expect(postgresTls(`${URL_BASE}?sslmode=require&sslrootcert=${CA}`, 'DATABASE_URL').mode).toBe('verify-ca');
  });

  it('is off with disable or no sslmode; ssl=true alone is verify-full, as in pg', () => {
    expect(postgresTls(URL_BASE, 'DATABASE_URL')).toEqual({ mode: 'off', connectionString: URL_BASE, ssl: false, summary: 'off' });
    expect(postgresTls(`${URL_BASE}?sslmode=disable`, 'DATABASE_URL').connectionString).toBe(URL_BASE);
    expect(postgresTls(`${URL_BASE}?ssl=true`, 'DATABASE_URL').mode).toBe('verify-full');
  });

  it.each([
    [
      `?sslmode=verify-full&sslrootcert=${join(dir, 'missing.crt')}`,
      `DATABASE_DIRECT_URL sslrootcert=${join(dir, 'missing.crt')} cannot be read: ENOENT`,
    ],
    [`?sslmode=verify-full&sslrootcert=${NOT_PEM}`, `DATABASE_DIRECT_URL sslrootcert=${NOT_PEM} is not a PEM certificate`],
    ['?sslmode=verify-ca', 'DATABASE_DIRECT_URL has sslmode=verify-ca without sslrootcert'],
    ['?sslmode=prefer', 'DATABASE_DIRECT_URL has sslmode=prefer, which falls back to plain text'],
    ['?sslmode=strict', 'DATABASE_DIRECT_URL has sslmode=strict: use verify-full'],
  ])('refuses %s in one line naming the setting', (query, message) => {
    expect(() => postgresTls(`${URL_BASE}${query}`, 'DATABASE_DIRECT_URL')).toThrow(message);
  });
});

describe('loadConfig: DATABASE_POOL_MODE, DATABASE_DIRECT_URL and TLS', () => {
  const DB = { DATABASE_URL: 'postgres://app@pgbouncer:6432/webhooks' };

  it('is session mode by default, with prepared statements and async worker commits', () => {
    expect(loadConfig(DB).database).toMatchObject({
      poolMode: 'session',
      preparedStatements: true,
      asyncWorkerCommits: true,
      direct: undefined,
    });
  });

  it('turns off what a transaction pool breaks, and refuses asking for it explicitly', () => {
    expect(loadConfig({ ...DB, DATABASE_POOL_MODE: 'transaction' }).database).toMatchObject({
      poolMode: 'transaction',
      preparedStatements: false,
      asyncWorkerCommits: false,
    });
    for (const name of ['DATABASE_PREPARED_STATEMENTS', 'DATABASE_ASYNC_WORKER_COMMITS']) {
      expect(() => loadConfig({ ...DB, DATABASE_POOL_MODE: 'transaction', [name]: 'true' })).toThrow(
        new ConfigError(
          `${name}=true does not work with DATABASE_POOL_MODE=transaction (the pooler hands each transaction to any server connection): unset it`,
        ),
      );
      expect(() => loadConfig({ ...DB, DATABASE_POOL_MODE: 'transaction', [name]: 'false' })).not.toThrow();
    }
    expect(() => loadConfig({ ...DB, DATABASE_POOL_MODE: 'statement' })).toThrow(/DATABASE_POOL_MODE/);
  });

  it('reads DATABASE_DIRECT_URL with its own TLS, and refuses it without DATABASE_URL', () => {
    const c = loadConfig({
      ...DB,
      DATABASE_POOL_MODE: 'transaction',
      DATABASE_DIRECT_URL: `postgres://app@db:5432/webhooks?sslmode=verify-full&sslrootcert=${CA}`,
    });
    expect(c.database.direct).toMatchObject({ mode: 'verify-full', connectionString: 'postgres://app@db:5432/webhooks' });
    expect(c.database.tls.mode).toBe('off');
    expect(() => loadConfig({ DATABASE_DIRECT_URL: 'postgres://db/x' })).toThrow(/DATABASE_DIRECT_URL is set without DATABASE_URL/);
  });

  it('warns in production about a direct URL in plain text, as about DATABASE_URL', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      WEBHOOK_SECRET: 'a-webhook-secret-of-32-characters-ok',
      DATABASE_URL: 'postgres://app@pgbouncer:6432/webhooks?sslmode=verify-full',
      DATABASE_POOL_MODE: 'transaction',
      DATABASE_DIRECT_URL: 'postgres://app@db:5432/webhooks',
    });
    expect(c.warnings).toEqual(['DATABASE_DIRECT_URL connects to PostgreSQL without TLS: add sslmode=verify-full (or require) to the URL']);
  });

  it('stops the boot on a CA file that is missing or does not parse, naming the setting', () => {
    expect(() => loadConfig({ DATABASE_URL: `postgres://db/x?sslmode=verify-full&sslrootcert=${NOT_PEM}` })).toThrow(
      new ConfigError(`DATABASE_URL sslrootcert=${NOT_PEM} is not a PEM certificate`),
    );
    expect(() => loadConfig({ ...DB, DATABASE_DIRECT_URL: 'postgres://db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem' })).toThrow(
      /^DATABASE_DIRECT_URL sslrootcert=\/nonexistent\/ca.pem cannot be read: ENOENT$/,
    );
  });
});
