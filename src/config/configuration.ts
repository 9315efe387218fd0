import { z } from 'zod';

const intFrom = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );

/**
 * Every environment variable the service reads. Names are a contract with operators
 * (README, deploy/), so rename nothing here without a migration note.
 */
export const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: intFrom(3000).pipe(z.number().max(65535)),
  HOST: optionalString,
  HTTP_REQUEST_TIMEOUT_MS: intFrom(30_000, 1000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  APP_ROLE: z.enum(['all', 'api', 'worker']).default('all'),

  DATABASE_URL: optionalString,
  DATABASE_PREPARED_STATEMENTS: z.stringbool().default(true),
  REDIS_URL: optionalString,
  QUEUE_BACKEND: z.enum(['redis', 'postgres']).optional(),
  QUEUE_PREFIX: z.string().default('bull'),
  DATA_DIR: z.string().trim().min(1).default('./data'),

  WEBHOOK_SECRET: list,
  WEBHOOK_TOLERANCE_SECONDS: intFrom(300),
  WEBHOOK_MAX_BODY_BYTES: intFrom(1_048_576, 1024),

  TRANSCRIPT_TIMEOUT_MS: intFrom(10_000, 1),
  TRANSCRIPT_MAX_BYTES: intFrom(10 * 1024 * 1024, 1),
  TRANSCRIPT_ALLOWED_HOSTS: list,

  SLACK_WEBHOOK_URL: optionalString.pipe(z.url().optional()),
  SLACK_TIMEOUT_MS: intFrom(10_000, 1),

  JOB_ATTEMPTS: intFrom(5, 1),
  JOB_BACKOFF_MS: intFrom(1000),
  WORKER_CONCURRENCY: intFrom(32, 1),
  WORKER_LOCK_DURATION_MS: intFrom(30_000, 1000),
  WORKER_STALLED_INTERVAL_MS: intFrom(30_000, 100),
  SWEEP_INTERVAL_MS: intFrom(30_000, 100),
  SWEEP_STALE_AFTER_MS: intFrom(60_000, 0),
  SWEEP_STUCK_AFTER_MS: intFrom(600_000, 0),
  INBOX_RETENTION_DAYS: intFrom(0),

  ADMIN_TOKEN: optionalString,
  SHUTDOWN_TIMEOUT_MS: intFrom(25_000),
});

export type Env = z.infer<typeof envSchema>;
export type QueueBackend = 'redis' | 'postgres';

export interface AppConfig {
  /** `host`: the address to listen on (embedded mode: loopback unless HOST says otherwise). */
  app: { env: string; production: boolean; host: string; port: number; requestTimeoutMs: number; logLevel: Env['LOG_LEVEL']; role: Env['APP_ROLE']; shutdownTimeoutMs: number; dataDir: string };
  /** `embedded`: no DATABASE_URL outside production; src/embedded starts PGlite and fills `url` before the app is built. */
  database: { url: string; embedded: boolean; preparedStatements: boolean };
  queue: { backend: QueueBackend; redisUrl?: string; prefix: string; attempts: number; backoffMs: number; concurrency: number; lockDurationMs: number; stalledIntervalMs: number };
  /** The stale-row sweeper (worker role): see src/queue/stale-events.sweeper.ts. `retentionDays` 0: finished rows are kept. */
  sweeper: { intervalMs: number; staleAfterMs: number; stuckAfterMs: number; retentionDays: number };
  /** `secrets` is empty only outside production when WEBHOOK_SECRET is unset: src/embedded generates one under DATA_DIR. */
  webhook: { secrets: string[]; toleranceSeconds: number; maxBodyBytes: number };
  /** `devTranscripts`: the embedded mode's sample transcripts on the service's own port may be fetched. */
  transcript: { timeoutMs: number; maxBytes: number; allowedHosts: string[]; servicePort: number; devTranscripts: boolean };
  slack: { webhookUrl?: string; timeoutMs: number };
  admin: { token?: string };
  /** Problems that do not stop the boot, logged once it has a logger. */
  warnings: string[];
}

/** Thrown for a configuration that must stop the boot; its message is one line meant for an operator. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Production refuses to boot with shorter secrets (a warning below GOOD_WEBHOOK_SECRET). */
export const MIN_ADMIN_TOKEN = 24;
export const MIN_WEBHOOK_SECRET = 16;
export const GOOD_WEBHOOK_SECRET = 32;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  // Outside production both may be left unset: the embedded mode (src/embedded) generates a secret
  // and runs PGlite under DATA_DIR. In production a missing one stops the boot.
  if (e.WEBHOOK_SECRET.length === 0 && production) {
    throw new ConfigError('WEBHOOK_SECRET is required: set it to the signing secret configured on the InterviewRelay platform (comma-separate several to rotate)');
  }
  const warnings: string[] = [];
  if (production) {
    // Guessable secrets are refused where they guard real data; the platform issues the webhook one.
    if (e.ADMIN_TOKEN !== undefined && e.ADMIN_TOKEN.length < MIN_ADMIN_TOKEN) {
      throw new ConfigError(`ADMIN_TOKEN is ${e.ADMIN_TOKEN.length} characters: use at least ${MIN_ADMIN_TOKEN} random ones (e.g. openssl rand -hex 24), or unset it to disable the admin routes`);
    }
    for (const [i, secret] of e.WEBHOOK_SECRET.entries()) {
      const which = e.WEBHOOK_SECRET.length > 1 ? `WEBHOOK_SECRET entry ${i + 1}` : 'WEBHOOK_SECRET';
      if (secret.length < MIN_WEBHOOK_SECRET) {
        throw new ConfigError(`${which} is ${secret.length} characters: a signing secret must have at least ${MIN_WEBHOOK_SECRET} (use the one the InterviewRelay platform issued)`);
      }
      if (secret.length < GOOD_WEBHOOK_SECRET) warnings.push(`${which} is ${secret.length} characters; a secret of ${GOOD_WEBHOOK_SECRET} or more is safer against guessing`);
    }
  }
  if (!e.DATABASE_URL && production) {
    throw new ConfigError('DATABASE_URL is required in production, e.g. postgres://user:password@db:5432/webhooks');
  }
  const embedded = !e.DATABASE_URL;
  if (embedded && e.APP_ROLE !== 'all') {
    throw new ConfigError(`APP_ROLE=${e.APP_ROLE} needs DATABASE_URL: the embedded database lives inside one process, so api and worker cannot be split without a PostgreSQL server`);
  }
  if (e.QUEUE_BACKEND === 'redis' && !e.REDIS_URL) {
    throw new ConfigError('QUEUE_BACKEND=redis needs REDIS_URL, e.g. redis://127.0.0.1:6379');
  }
  // The embedded mode has no Redis to talk to unless asked for explicitly.
  const queueBackend: QueueBackend = e.QUEUE_BACKEND ?? (e.REDIS_URL && !embedded ? 'redis' : 'postgres');
  return {
    app: {
      env: e.NODE_ENV,
      production: e.NODE_ENV === 'production',
      // The embedded mode serves /dev routes without authentication: it stays on this machine
      // unless HOST says otherwise.
      host: e.HOST ?? (embedded ? '127.0.0.1' : '0.0.0.0'),
      port: e.PORT,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      logLevel: e.LOG_LEVEL,
      role: e.APP_ROLE,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      dataDir: e.DATA_DIR,
    },
    // The embedded database's connections share one session: a statement name prepared on one
    // would clash on the next, so it parses every statement (src/database/prepared-statements.ts).
    database: { url: e.DATABASE_URL ?? '', embedded, preparedStatements: e.DATABASE_PREPARED_STATEMENTS && !embedded },
    queue: {
      backend: queueBackend,
      redisUrl: e.REDIS_URL,
      prefix: e.QUEUE_PREFIX,
      attempts: e.JOB_ATTEMPTS,
      backoffMs: e.JOB_BACKOFF_MS,
      concurrency: e.WORKER_CONCURRENCY,
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
    },
    sweeper: { intervalMs: e.SWEEP_INTERVAL_MS, staleAfterMs: e.SWEEP_STALE_AFTER_MS, stuckAfterMs: e.SWEEP_STUCK_AFTER_MS, retentionDays: e.INBOX_RETENTION_DAYS },
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
      allowedHosts: (e.TRANSCRIPT_ALLOWED_HOSTS.length === 0 && embedded ? [`127.0.0.1:${e.PORT}`, `localhost:${e.PORT}`] : e.TRANSCRIPT_ALLOWED_HOSTS).map((h) =>
        h.toLowerCase(),
      ),
    },
    slack: { webhookUrl: e.SLACK_WEBHOOK_URL, timeoutMs: e.SLACK_TIMEOUT_MS },
    admin: { token: e.ADMIN_TOKEN },
    warnings,
  };
}
