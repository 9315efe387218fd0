import { Env, envSchema, GOOD_WEBHOOK_SECRET, MIN_ADMIN_TOKEN, MIN_WEBHOOK_SECRET } from './env.schema.js';

export { envSchema };
export type QueueBackend = 'redis' | 'postgres';

export interface AppConfig {
  /** `host`: the address to listen on (embedded mode: loopback unless HOST says otherwise). */
  app: {
    env: string;
    production: boolean;
    host: string;
    port: number;
    requestTimeoutMs: number;
    logLevel: Env['LOG_LEVEL'];
    role: Env['APP_ROLE'];
    shutdownTimeoutMs: number;
    dataDir: string;
  };
  /** `embedded`: no DATABASE_URL outside production; src/embedded starts PGlite and fills `url` before the app is built. */
  database: { url: string; embedded: boolean; preparedStatements: boolean; asyncWorkerCommits: boolean };
  queue: {
    backend: QueueBackend;
    redisUrl?: string;
    prefix: string;
    attempts: number;
    backoffMs: number;
    concurrency: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
  };
  /** The stale-row sweeper (worker role): see src/processing/stale-events.sweeper.ts. `retentionDays` 0: finished rows are kept. */
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
    throw new ConfigError(
      'WEBHOOK_SECRET is required: set it to the signing secret configured on the InterviewRelay platform (comma-separate several to rotate)',
    );
  }
  const warnings: string[] = [];
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
  if (!e.DATABASE_URL && production) {
    throw new ConfigError('DATABASE_URL is required in production, e.g. postgres://user:password@db:5432/webhooks');
  }
  const embedded = !e.DATABASE_URL;
  if (embedded && e.APP_ROLE !== 'all') {
    throw new ConfigError(
      `APP_ROLE=${e.APP_ROLE} needs DATABASE_URL: the embedded database lives inside one process, so api and worker cannot be split without a PostgreSQL server`,
    );
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
    // would clash on the next, so it parses every statement (src/database/sql-statements.ts).
    database: {
      url: e.DATABASE_URL ?? '',
      embedded,
      preparedStatements: e.DATABASE_PREPARED_STATEMENTS && !embedded,
      asyncWorkerCommits: e.DATABASE_ASYNC_WORKER_COMMITS && !embedded,
    },
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
    admin: { token: e.ADMIN_TOKEN },
    warnings,
  };
}
