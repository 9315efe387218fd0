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
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  APP_ROLE: z.enum(['all', 'api', 'worker']).default('all'),

  DATABASE_URL: optionalString,
  REDIS_URL: optionalString,
  QUEUE_PREFIX: z.string().default('bull'),

  WEBHOOK_SECRET: list,
  WEBHOOK_TOLERANCE_SECONDS: intFrom(300),
  WEBHOOK_MAX_BODY_BYTES: intFrom(1_048_576, 1024),

  TRANSCRIPT_TIMEOUT_MS: intFrom(10_000, 1),
  TRANSCRIPT_MAX_BYTES: intFrom(10 * 1024 * 1024, 1),
  TRANSCRIPT_ALLOWED_HOSTS: list,

  SLACK_WEBHOOK_URL: optionalString.pipe(z.url().optional()),

  JOB_ATTEMPTS: intFrom(5, 1),
  JOB_BACKOFF_MS: intFrom(1000),
  WORKER_CONCURRENCY: intFrom(32, 1),

  ADMIN_TOKEN: optionalString,
  SHUTDOWN_TIMEOUT_MS: intFrom(25_000),
});

export type Env = z.infer<typeof envSchema>;

export interface AppConfig {
  app: { env: string; production: boolean; port: number; logLevel: Env['LOG_LEVEL']; role: Env['APP_ROLE']; shutdownTimeoutMs: number };
  database: { url: string };
  queue: { redisUrl: string; prefix: string; attempts: number; backoffMs: number; concurrency: number };
  webhook: { secrets: string[]; toleranceSeconds: number; maxBodyBytes: number };
  transcript: { timeoutMs: number; maxBytes: number; allowedHosts: string[] };
  slack: { webhookUrl?: string };
  admin: { token?: string };
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
  if (e.WEBHOOK_SECRET.length === 0) {
    throw new ConfigError('WEBHOOK_SECRET is required: set it to the signing secret configured on the InterviewRelay platform (comma-separate several to rotate)');
  }
  if (!e.DATABASE_URL) {
    throw new ConfigError('DATABASE_URL is required, e.g. postgres://postgres@127.0.0.1:5432/postgres');
  }
  return {
    app: {
      env: e.NODE_ENV,
      production: e.NODE_ENV === 'production',
      port: e.PORT,
      logLevel: e.LOG_LEVEL,
      role: e.APP_ROLE,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    },
    database: { url: e.DATABASE_URL },
    queue: {
      redisUrl: e.REDIS_URL ?? 'redis://127.0.0.1:6379',
      prefix: e.QUEUE_PREFIX,
      attempts: e.JOB_ATTEMPTS,
      backoffMs: e.JOB_BACKOFF_MS,
      concurrency: e.WORKER_CONCURRENCY,
    },
    webhook: {
      secrets: e.WEBHOOK_SECRET,
      toleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
      maxBodyBytes: e.WEBHOOK_MAX_BODY_BYTES,
    },
    transcript: {
      timeoutMs: e.TRANSCRIPT_TIMEOUT_MS,
      maxBytes: e.TRANSCRIPT_MAX_BYTES,
      allowedHosts: e.TRANSCRIPT_ALLOWED_HOSTS.map((h) => h.toLowerCase()),
    },
    slack: { webhookUrl: e.SLACK_WEBHOOK_URL },
    admin: { token: e.ADMIN_TOKEN },
  };
}
