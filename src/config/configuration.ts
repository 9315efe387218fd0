import { Env, envSchema, GOOD_WEBHOOK_SECRET, MIN_ADMIN_TOKEN, MIN_ERASURE_HASH_KEY, MIN_WEBHOOK_SECRET } from './env.schema.js';
import { PgConnectionOptions, PostgresTls, postgresTls, PostgresTlsError } from './postgres-tls.js';
import { RedisTopology, RedisTopologyError, resolveRedisTopology } from './redis-topology.js';

export { envSchema };
export type QueueBackend = 'redis' | 'postgres';

/** The kinds of personal data with a retention setting of their own (days; 0 keeps). */
export const RETENTION_KINDS = ['transcripts', 'interviews', 'feedback', 'notifications', 'inbox_payloads'] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

/** An admin token and the actor it stands for in the audit log. */
export interface AdminToken {
  name: string;
  token: string;
}

/** The actor of ADMIN_TOKEN. */
export const DEFAULT_ADMIN_ACTOR = 'admin';
const ACTOR_NAME = /^[\w.-]{1,64}$/;

export interface AppConfig {
  /** `host`: the address to listen on (embedded mode: loopback unless HOST says otherwise). */
  app: {
    env: string;
    production: boolean;
    host: string;
    port: number;
    requestTimeoutMs: number;
    /** Set: /metrics and the probes are served on this port only (health/management.server.ts). */
    managementPort?: number;
    /** Serve the OpenAPI document and Swagger UI. */
    apiDocs: boolean;
    logLevel: Env['LOG_LEVEL'];
    role: Env['APP_ROLE'];
    shutdownTimeoutMs: number;
    dataDir: string;
  };
  /** `embedded`: no DATABASE_URL outside production; src/embedded starts PGlite and fills `url` before the app is built. */
  database: {
    url: string;
    embedded: boolean;
    preparedStatements: boolean;
    asyncWorkerCommits: boolean;
    /** `transaction`: `url` is a pooler in transaction mode (docs/deployment.md, "PostgreSQL behind PgBouncer"). */
    poolMode: 'session' | 'transaction';
    /** `url`'s TLS (its parameters taken out of `tls.connectionString`); off in the embedded mode. */
    tls: PostgresTls;
    /** DATABASE_DIRECT_URL: the queue backend's LISTEN connection bypasses the pooler. */
    direct?: PostgresTls;
  };
  queue: {
    backend: QueueBackend;
    /** REDIS_URL (single node only; `redis` says how to reach any topology). */
    redisUrl?: string;
    /** The Redis topology (src/config/redis-topology.ts); undefined when none is set. */
    redis?: RedisTopology;
    prefix: string;
    attempts: number;
    backoffMs: number;
    concurrency: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
    /** 0: no stalled-worker watchdog (src/queue/worker-watchdog.ts). */
    watchdogMs: number;
  };
  /** The stale-row sweeper (worker role): see src/processing/stale-events.sweeper.ts. `retentionDays` 0: finished rows are kept. */
  sweeper: { intervalMs: number; staleAfterMs: number; stuckAfterMs: number; retentionDays: number };
  /** `secrets` is empty only outside production when WEBHOOK_SECRET is unset: src/embedded generates one under DATA_DIR. */
  webhook: { secrets: string[]; toleranceSeconds: number; maxBodyBytes: number };
  /** `devTranscripts`: the embedded mode's sample transcripts on the service's own port may be fetched. */
  transcript: { timeoutMs: number; maxBytes: number; allowedHosts: string[]; servicePort: number; devTranscripts: boolean };
  slack: { webhookUrl?: string; timeoutMs: number };
  /** `tokens`: ADMIN_TOKEN (actor `admin`) and ADMIN_TOKENS; empty: no admin routes. */
  admin: { token?: string; tokens: AdminToken[] };
  /** Retention in days per kind (0 keeps), how often the pass runs, the erasure tombstones' HMAC key if set. */
  privacy: { retentionDays: Record<RetentionKind, number>; intervalMinutes: number; hashKey?: string };
  /** Problems that do not stop the boot, logged once it has a logger. */
  warnings: string[];
}

/** Thrown for a configuration that must stop the boot; its message is one line meant for an operator. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const warnings: string[] = [];
  // `Production` or `"production "` is production, not development: a typo must not lift the rules.
  const production = e.NODE_ENV.trim().toLowerCase() === 'production';
  if (production && e.NODE_ENV !== 'production') warnings.push(`NODE_ENV is ${JSON.stringify(e.NODE_ENV)}: treated as production`);
  // Outside production both may be left unset: the embedded mode (src/embedded) generates a secret
  // and runs PGlite under DATA_DIR. In production a missing one stops the boot.
  if (e.WEBHOOK_SECRET.length === 0 && production) {
    throw new ConfigError(
      'WEBHOOK_SECRET is required: set it to the signing secret configured on the InterviewRelay platform (comma-separate several to rotate)',
    );
  }
  if (production) {
    // Guessable secrets are refused where they guard real data; the platform issues the webhook one.
    if (e.ADMIN_TOKEN !== undefined && e.ADMIN_TOKEN.length < MIN_ADMIN_TOKEN) {
      throw new ConfigError(
        `ADMIN_TOKEN is ${e.ADMIN_TOKEN.length} characters: use at least ${MIN_ADMIN_TOKEN} random ones (e.g. openssl rand -hex 24), or unset it to disable the admin routes`,
      );
    }
    for (const [i, secret] of e.WEBHOOK_SECRET.entries()) {
      const which = e.WEBHOOK_SECRET.length > 1 ? `WEBHOOK_SECRET entry ${i + 1}` : 'WEBHOOK_SECRET';
      if (secret.length < MIN_WEBHOOK_SECRET) {
        throw new ConfigError(
          `${which} is ${secret.length} characters: a signing secret must have at least ${MIN_WEBHOOK_SECRET} (use the one the InterviewRelay platform issued)`,
        );
      }
      if (secret.length < GOOD_WEBHOOK_SECRET)
        warnings.push(`${which} is ${secret.length} characters; a secret of ${GOOD_WEBHOOK_SECRET} or more is safer against guessing`);
    }
  }
  const adminTokens = parseAdminTokens(e.ADMIN_TOKEN, e.ADMIN_TOKENS);
  if (production) {
    checkAdminTokens(adminTokens, e.WEBHOOK_SECRET);
    warnings.push(...plainTextTransports(e));
  }
  if (production) {
    for (const { name, token } of adminTokens.filter((t) => t.name !== DEFAULT_ADMIN_ACTOR)) {
      if (token.length < MIN_ADMIN_TOKEN)
        throw new ConfigError(`ADMIN_TOKENS entry ${name} is ${token.length} characters: use at least ${MIN_ADMIN_TOKEN} random ones`);
    }
  }
  if (e.ERASURE_HASH_KEY !== undefined && e.ERASURE_HASH_KEY.length < MIN_ERASURE_HASH_KEY) {
    throw new ConfigError(
      `ERASURE_HASH_KEY is ${e.ERASURE_HASH_KEY.length} characters: use at least ${MIN_ERASURE_HASH_KEY} random ones (e.g. openssl rand -hex 32), or unset it to let the service generate one`,
    );
  }
  if (e.MANAGEMENT_PORT !== undefined && e.MANAGEMENT_PORT === e.PORT) {
    throw new ConfigError(`MANAGEMENT_PORT is PORT (${e.PORT}): give the management listener a port of its own, or unset it`);
  }
  if (!e.DATABASE_URL && production) {
    throw new ConfigError('DATABASE_URL is required in production, e.g. postgres://user:password@db:5432/webhooks');
  }
  const embedded = !e.DATABASE_URL;
  if (embedded && e.APP_ROLE !== 'all') {
    throw new ConfigError(
      `APP_ROLE=${e.APP_ROLE} needs DATABASE_URL: the embedded database lives inside one process, so api and worker cannot be split without a PostgreSQL server`,
    );
  }
  const database = databaseConfig(e, env, embedded);
  let redis: RedisTopology | undefined;
  try {
    redis = resolveRedisTopology(e);
  } catch (err) {
    if (err instanceof RedisTopologyError) throw new ConfigError(err.message);
    throw err;
  }
  if (e.QUEUE_BACKEND === 'redis' && !redis) {
    throw new ConfigError('QUEUE_BACKEND=redis needs REDIS_URL (or REDIS_SENTINELS, or REDIS_CLUSTER_NODES), e.g. redis://127.0.0.1:6379');
  }
  // The embedded mode has no Redis to talk to unless asked for explicitly.
  const queueBackend: QueueBackend = e.QUEUE_BACKEND ?? (redis && !embedded ? 'redis' : 'postgres');
  return {
    app: {
      env: production ? 'production' : e.NODE_ENV,
      production,
      // The embedded mode serves /dev routes without authentication: it stays on this machine
      // unless HOST says otherwise.
      host: e.HOST ?? (embedded ? '127.0.0.1' : '0.0.0.0'),
      port: e.PORT,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      managementPort: e.MANAGEMENT_PORT,
      apiDocs: e.API_DOCS ?? !production,
      logLevel: e.LOG_LEVEL,
      role: e.APP_ROLE,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      dataDir: e.DATA_DIR,
    },
    database,
    queue: {
      backend: queueBackend,
      redisUrl: e.REDIS_URL,
      redis,
      prefix: e.QUEUE_PREFIX,
      attempts: e.JOB_ATTEMPTS,
      backoffMs: e.JOB_BACKOFF_MS,
      concurrency: e.WORKER_CONCURRENCY,
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
      watchdogMs: e.WORKER_WATCHDOG_MS,
    },
    sweeper: {
      intervalMs: e.SWEEP_INTERVAL_MS,
      staleAfterMs: e.SWEEP_STALE_AFTER_MS,
      stuckAfterMs: e.SWEEP_STUCK_AFTER_MS,
      retentionDays: e.INBOX_RETENTION_DAYS,
    },
    webhook: {
      secrets: e.WEBHOOK_SECRET,
      toleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
      maxBodyBytes: e.WEBHOOK_MAX_BODY_BYTES,
    },
    transcript: {
      timeoutMs: e.TRANSCRIPT_TIMEOUT_MS,
      maxBytes: e.TRANSCRIPT_MAX_BYTES,
      // The embedded mode serves sample transcripts itself (GET /dev/transcripts/:id), so by default
      // it may fetch from its own loopback port, and nothing else. Elsewhere the default stays strict.
      servicePort: e.PORT,
      devTranscripts: embedded && !production,
      allowedHosts: (e.TRANSCRIPT_ALLOWED_HOSTS.length === 0 && embedded
        ? [`127.0.0.1:${e.PORT}`, `localhost:${e.PORT}`]
        : e.TRANSCRIPT_ALLOWED_HOSTS
      ).map((h) => h.toLowerCase()),
    },
    slack: { webhookUrl: e.SLACK_WEBHOOK_URL, timeoutMs: e.SLACK_TIMEOUT_MS },
    admin: { token: e.ADMIN_TOKEN, tokens: adminTokens },
    privacy: {
      retentionDays: {
        transcripts: e.TRANSCRIPT_RETENTION_DAYS,
        interviews: e.INTERVIEW_RETENTION_DAYS,
        feedback: e.FEEDBACK_RETENTION_DAYS,
        notifications: e.NOTIFICATION_RETENTION_DAYS,
        inbox_payloads: e.INBOX_PAYLOAD_RETENTION_DAYS,
      },
      intervalMinutes: e.RETENTION_INTERVAL_MINUTES,
      hashKey: e.ERASURE_HASH_KEY,
    },
    warnings,
  };
}

/**
 * The database settings. The embedded database's connections share one session: a statement name
 * prepared on one would clash on the next, so it parses every statement (src/database/sql-statements.ts).
 * A pooler in transaction mode hands each transaction to any server connection: what lives in a
 * session (named statements, the async-commit pool's `options` startup parameter) is turned off, and
 * asking for it explicitly stops the boot rather than failing at the first statement.
 */
function databaseConfig(e: Env, raw: NodeJS.ProcessEnv, embedded: boolean): AppConfig['database'] {
  const transaction = e.DATABASE_POOL_MODE === 'transaction';
  const explicitlyOn = (name: string) => ['true', '1', 'yes', 'on'].includes((raw[name] ?? '').trim().toLowerCase());
  if (transaction) {
    for (const name of ['DATABASE_PREPARED_STATEMENTS', 'DATABASE_ASYNC_WORKER_COMMITS']) {
      if (explicitlyOn(name))
        throw new ConfigError(
          `${name}=true does not work with DATABASE_POOL_MODE=transaction (the pooler hands each transaction to any server connection): unset it`,
        );
    }
  }
  if (e.DATABASE_DIRECT_URL && embedded) throw new ConfigError('DATABASE_DIRECT_URL is set without DATABASE_URL: set both, or neither');
  const tls = (url: string, setting: string) => {
    try {
      return postgresTls(url, setting);
    } catch (err) {
      if (err instanceof PostgresTlsError) throw new ConfigError(err.message);
      throw err;
    }
  };
  return {
    url: e.DATABASE_URL ?? '',
    embedded,
    preparedStatements: e.DATABASE_PREPARED_STATEMENTS && !embedded && !transaction,
    asyncWorkerCommits: e.DATABASE_ASYNC_WORKER_COMMITS && !embedded && !transaction,
    poolMode: e.DATABASE_POOL_MODE,
    // The embedded URL is filled in later (src/embedded/local-mode.ts) and is plain loopback.
    tls: e.DATABASE_URL ? tls(e.DATABASE_URL, 'DATABASE_URL') : { mode: 'off', connectionString: '', ssl: false, summary: 'off' },
    direct: e.DATABASE_DIRECT_URL ? tls(e.DATABASE_DIRECT_URL, 'DATABASE_DIRECT_URL') : undefined,
  };
}

/**
 * ADMIN_TOKEN (actor `admin`) and ADMIN_TOKENS (`name:token,…`) as one list. Names must be distinct
 * and tokens too: the audit log must be able to tell who used a token.
 */
function parseAdminTokens(single: string | undefined, named: string[]): AdminToken[] {
  const tokens: AdminToken[] = single !== undefined ? [{ name: DEFAULT_ADMIN_ACTOR, token: single }] : [];
  for (const [i, entry] of named.entries()) {
    const colon = entry.indexOf(':');
    const name = colon > 0 ? entry.slice(0, colon).trim() : '';
    const token = colon > 0 ? entry.slice(colon + 1).trim() : '';
    if (!ACTOR_NAME.test(name) || token === '') {
      throw new ConfigError(`ADMIN_TOKENS entry ${i + 1} is not name:token (a name of letters, digits, '.', '_' or '-', then a token)`);
    }
    if (tokens.some((t) => t.name === name))
      throw new ConfigError(`ADMIN_TOKENS names ${name} twice (or beside ADMIN_TOKEN, whose actor is admin)`);
    if (tokens.some((t) => t.token === token))
      throw new ConfigError(`ADMIN_TOKENS entry ${name} has the same token as another admin token`);
    tokens.push({ name, token });
  }
  return tokens;
}

/**
 * Admin tokens that are not secrets stop the boot in production: one made of a single repeated
 * character (`aaaa…`), or one equal to a webhook signing secret (which the platform, and whoever
 * configures it there, also knows).
 */
function checkAdminTokens(tokens: AdminToken[], webhookSecrets: string[]): void {
  for (const { name, token } of tokens) {
    const which = name === DEFAULT_ADMIN_ACTOR ? 'ADMIN_TOKEN' : `ADMIN_TOKENS entry ${name}`;
    if (new Set(token).size === 1)
      throw new ConfigError(`${which} is one character repeated: use a random token (e.g. openssl rand -hex 24)`);
    if (webhookSecrets.includes(token))
      throw new ConfigError(`${which} is the same as a WEBHOOK_SECRET entry: give the admin API a token of its own`);
  }
}

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i;

/**
 * Production connections that cross the network in plain text, one warning each naming the setting:
 * a PostgreSQL URL (DATABASE_URL, DATABASE_DIRECT_URL) without an encrypting `sslmode` (`require`, `verify-ca`, `verify-full`) or
 * `ssl=true`, `redis://` rather than `rediss://`, an `http://` Slack webhook. A loopback host (a
 * sidecar, a local proxy) is not warned about: its traffic does not leave the machine.
 */
export function plainTextTransports(
  e: Pick<Env, 'DATABASE_URL' | 'DATABASE_DIRECT_URL' | 'REDIS_URL' | 'SLACK_WEBHOOK_URL'> &
    Partial<Pick<Env, 'REDIS_SENTINELS' | 'REDIS_CLUSTER_NODES' | 'REDIS_TLS' | 'REDIS_TLS_CA_FILE' | 'REDIS_TLS_CERT_FILE'>>,
): string[] {
  const warnings: string[] = [];
  const remote = (url: URL) => !LOOPBACK_HOST.test(url.hostname);
  for (const setting of ['DATABASE_URL', 'DATABASE_DIRECT_URL'] as const) {
    const database = parseUrl(e[setting]);
    if (!database || !remote(database)) continue;
    const sslmode = database.searchParams.get('sslmode')?.toLowerCase();
    const ssl = database.searchParams.get('ssl')?.toLowerCase();
    if (!['require', 'verify-ca', 'verify-full'].includes(sslmode ?? '') && !['true', '1'].includes(ssl ?? ''))
      warnings.push(`${setting} connects to PostgreSQL without TLS: add sslmode=verify-full (or require) to the URL`);
  }
  const redis = parseUrl(e.REDIS_URL);
  if (redis && remote(redis) && redis.protocol === 'redis:') warnings.push('REDIS_URL connects to Redis without TLS: use a rediss:// URL');
  const redisTls = e.REDIS_TLS ?? (e.REDIS_TLS_CA_FILE !== undefined || e.REDIS_TLS_CERT_FILE !== undefined);
  for (const setting of ['REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const) {
    const hosts = (e[setting] ?? []).map((n) => n.replace(/:\d+$/, ''));
    if (!redisTls && hosts.some((h) => !LOOPBACK_HOST.test(h)))
      warnings.push(`${setting} connects to Redis without TLS: set REDIS_TLS=true`);
  }
  const slack = parseUrl(e.SLACK_WEBHOOK_URL);
  if (slack && remote(slack) && slack.protocol === 'http:') warnings.push('SLACK_WEBHOOK_URL is http://: use the https:// URL Slack gives');
  return warnings;
}

function parseUrl(value: string | undefined): URL | undefined {
  if (!value) return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** What every `pg` pool and client of the service connects with: the URL without its TLS parameters, and their TLS options. */
export function pgConnection(database: AppConfig['database']): PgConnectionOptions {
  return database.embedded
    ? { connectionString: database.url, ssl: false }
    : { connectionString: database.tls.connectionString, ssl: database.tls.ssl };
}
