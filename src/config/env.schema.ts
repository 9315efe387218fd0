import { z } from 'zod';

/** Production refuses to boot with shorter secrets (a warning below GOOD_WEBHOOK_SECRET). */
export const MIN_ADMIN_TOKEN = 24;
export const MIN_WEBHOOK_SECRET = 16;
export const MIN_ERASURE_HASH_KEY = 32;
export const GOOD_WEBHOOK_SECRET = 32;

/** Sections of docs/configuration.md, in this order. */
export const ENV_GROUPS = [
  'Process',
  'HTTP',
  'Webhooks',
  'Database',
  'Queue',
  'Transcripts',
  'Slack',
  'Sweeper',
  'Privacy',
  'Admin',
  'Tracing',
] as const;
export type EnvGroup = (typeof ENV_GROUPS)[number];

/**
 * The documentation of one variable, kept on its schema with zod's `.meta()`; docs/configuration.md
 * is rendered from it (src/config/reference.ts). A type, not an interface: zod's metadata type
 * has an index signature, which only a type alias satisfies.
 */
export type EnvDoc = {
  group: EnvGroup;
  /** Markdown, one or two sentences: what it does and what to set it to. */
  description: string;
  /** What unset means when the schema has no constant default (loadConfig computes it). */
  computedDefault?: string;
  /** The values it takes, where the schema's JSON Schema cannot say (lists, flags, URLs). */
  accepts?: string;
  /** Who reads a variable the service does not validate (otelVariables); default: Node. */
  readBy?: string;
};

const doc = <T extends z.ZodType>(schema: T, meta: EnvDoc): T => schema.meta(meta);

const intFrom = (def: number, min = 0, max?: number) => {
  const n = z.coerce.number().int().min(min);
  return (max === undefined ? n : n.max(max)).default(def);
};
const flag = (def: boolean) => z.stringbool().default(def).meta({ accepts: '`true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`)' });
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
  )
  .meta({ accepts: 'comma-separated list' });

/**
 * Every environment variable the service reads, with its documentation. Names are a contract with
 * operators (docs/configuration.md, deploy/), so rename nothing here without a migration note.
 * After a change: `npm run docs:config` (the unit tests fail while the reference is stale).
 */
export const envSchema = z.object({
  NODE_ENV: doc(z.string().default('development'), {
    group: 'Process',
    description:
      '`production` applies the production rules: `DATABASE_URL` and `WEBHOOK_SECRET` are required, short secrets are refused, and there is no embedded mode and no `/dev` routes. Any other value runs as development',
  }),
  APP_ROLE: doc(z.enum(['all', 'api', 'worker']).default('all'), {
    group: 'Process',
    description:
      '`all` runs both sides in one process; `api` takes deliveries only, `worker` only processes (probes and metrics on `PORT`). `api` and `worker` need `DATABASE_URL`',
  }),
  LOG_LEVEL: doc(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), {
    group: 'Process',
    description: 'Lowest level logged',
  }),
  SHUTDOWN_TIMEOUT_MS: doc(intFrom(25_000), {
    group: 'Process',
    description: 'On SIGTERM, how long workers get to finish their active jobs before they are closed anyway',
  }),
  DATA_DIR: doc(z.string().trim().min(1).default('./data'), {
    group: 'Process',
    description: 'Embedded mode: the database (`DATA_DIR/pglite`) and the generated secret (`DATA_DIR/webhook-secret`)',
    accepts: 'directory path',
  }),

  PORT: doc(intFrom(3000, 0, 65535), { group: 'HTTP', description: 'HTTP port, in every role' }),
  HOST: doc(optionalString, {
    group: 'HTTP',
    description:
      'Address to listen on. The embedded mode serves its `/dev` routes without authentication, so it stays on this machine unless `HOST` says otherwise',
    computedDefault: '`0.0.0.0`; embedded mode: `127.0.0.1`',
    accepts: 'IP address or host name',
  }),
  MANAGEMENT_PORT: doc(z.coerce.number().int().min(1).max(65535).optional(), {
    group: 'HTTP',
    description:
      'A port of its own for `/metrics`, `/health/live` and `/health/ready` (with their details), on `HOST`: `PORT` then no longer serves them (404), so a public ingress exposes only the webhook route (and the admin routes, which need a token). Unset: all on `PORT`, readiness details only with an admin token',
    computedDefault: '(unset)',
    accepts: 'integer 1–65535',
  }),
  API_DOCS: doc(z.stringbool().optional(), {
    group: 'HTTP',
    description: 'Serve the OpenAPI document and Swagger UI (`/docs`, `/docs-json`, `/docs-yaml`)',
    computedDefault: '`true`; production: `false`',
    accepts: '`true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`)',
  }),
  HTTP_REQUEST_TIMEOUT_MS: doc(intFrom(30_000, 1000), {
    group: 'HTTP',
    description:
      'Time a client gets to send a whole request (the headers within the first 10 s); then it is answered 408 and the connection closed',
  }),

  WEBHOOK_SECRET: doc(list, {
    group: 'Webhooks',
    description: `Signing secret configured on the InterviewRelay platform; several while rotating. Production refuses an entry shorter than ${MIN_WEBHOOK_SECRET} characters and warns below ${GOOD_WEBHOOK_SECRET}`,
    computedDefault: 'required in production; elsewhere generated into `DATA_DIR/webhook-secret`',
  }),
  WEBHOOK_TOLERANCE_SECONDS: doc(intFrom(300), { group: 'Webhooks', description: 'Replay window for the timestamped signature scheme' }),
  WEBHOOK_MAX_BODY_BYTES: doc(intFrom(1_048_576, 1024), { group: 'Webhooks', description: 'Larger bodies get 413' }),

  DATABASE_URL: doc(optionalString, {
    group: 'Database',
    description:
      'PostgreSQL connection URL, e.g. `postgres://user:password@db:5432/webhooks?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem`. TLS as libpq reads it: `sslmode=verify-full` checks the certificate against `sslrootcert` (else the system CAs) and the host name; `verify-ca` the CA only (needs `sslrootcert`); `require` encrypts without checking (as `verify-ca` with `sslrootcert`); `disable` or none: plain text; `sslcert`/`sslkey` add a client certificate; `prefer`/`allow` are refused. A CA file that is missing or does not parse stops the boot; the boot log says which checks are on',
    computedDefault: 'required in production; elsewhere unset runs the embedded mode (PGlite under `DATA_DIR`)',
    accepts: 'PostgreSQL URL',
  }),
  DATABASE_POOL_MODE: doc(z.enum(['session', 'transaction']).default('session'), {
    group: 'Database',
    description:
      '`transaction`: `DATABASE_URL` is a pooler in transaction mode (PgBouncer `pool_mode=transaction`, RDS Proxy): no prepared statements, no session settings (every commit synchronous), advisory locks held in a transaction, and the PostgreSQL queue backend listens on `DATABASE_DIRECT_URL` or polls. `session`: a direct connection or session pooling',
  }),
  DATABASE_DIRECT_URL: doc(optionalString, {
    group: 'Database',
    description:
      "A direct connection to the same database, bypassing the pooler: the PostgreSQL queue backend's `LISTEN` connection uses it (one per queue and worker process). Unset with `DATABASE_POOL_MODE=transaction`: workers poll for new jobs every 0.2 s instead of being woken by `NOTIFY`",
    computedDefault: '(unset)',
    accepts: 'PostgreSQL URL',
  }),
  DATABASE_PREPARED_STATEMENTS: doc(flag(true), {
    group: 'Database',
    description:
      'The hot statements (inbox INSERT, claims, outcomes, feedback upsert) run as named prepared statements, parsed once per connection. Off with `DATABASE_POOL_MODE=transaction` (setting it `true` there stops the boot). The embedded mode never prepares',
  }),
  DATABASE_ASYNC_WORKER_COMMITS: doc(flag(true), {
    group: 'Database',
    description:
      "The worker's claims, outcomes and handler upserts (feedback, interviews, skipped notifications) commit without waiting for the WAL flush (`synchronous_commit=off` on connections of their own): a PostgreSQL crash can undo their last fraction of a second, which the stale-row sweeper redoes (handlers are idempotent). Deliveries, dead letters and Slack records always commit synchronously. Those connections also rule out sequential scans, so that the plans PostgreSQL keeps for the worker's statements stay on the primary key while a new inbox grows. Off with `DATABASE_POOL_MODE=transaction` (a pooler refuses the `options` startup parameter; setting it `true` there stops the boot); set `false` to keep every commit synchronous. The embedded mode never uses it",
  }),

  REDIS_URL: doc(optionalString, {
    group: 'Queue',
    description:
      'A single Redis node for the BullMQ queue, `redis://[user:password@]host:port` or `rediss://` for TLS; unset (and no `REDIS_SENTINELS` or `REDIS_CLUSTER_NODES`): the queue runs on PostgreSQL. Set one Redis topology only',
    accepts: 'Redis URL',
  }),
  REDIS_SENTINELS: doc(list, {
    group: 'Queue',
    description:
      "Redis through Sentinel: the sentinels to ask for the current primary, with `REDIS_SENTINEL_NAME`. The data nodes' credentials are `REDIS_USERNAME`/`REDIS_PASSWORD`; TLS as `REDIS_TLS`",
    accepts: 'comma-separated `host:port` list',
  }),
  REDIS_SENTINEL_NAME: doc(optionalString, {
    group: 'Queue',
    description: 'The name the sentinels know the primary by (`sentinel monitor NAME …`); needs `REDIS_SENTINELS`',
    computedDefault: '(unset)',
  }),
  REDIS_SENTINEL_PASSWORD: doc(optionalString, {
    group: 'Queue',
    description: "The sentinels' own password (`requirepass` in sentinel.conf), when they have one",
    computedDefault: '(unset)',
  }),
  REDIS_CLUSTER_NODES: doc(list, {
    group: 'Queue',
    description:
      "Redis in cluster mode: some of its nodes (seeds; the rest are discovered). Needs a `QUEUE_PREFIX` with a hash tag, e.g. `{webhooks}`, so that all of the queue's keys live in one slot. Credentials `REDIS_USERNAME`/`REDIS_PASSWORD`; TLS as `REDIS_TLS`",
    accepts: 'comma-separated `host:port` list',
  }),
  REDIS_USERNAME: doc(optionalString, {
    group: 'Queue',
    description: 'ACL user of the data nodes under `REDIS_SENTINELS` or `REDIS_CLUSTER_NODES` (with `REDIS_URL` it goes in the URL)',
    computedDefault: '(unset)',
  }),
  REDIS_PASSWORD: doc(optionalString, {
    group: 'Queue',
    description: 'Password of the data nodes under `REDIS_SENTINELS` or `REDIS_CLUSTER_NODES` (with `REDIS_URL` it goes in the URL)',
    computedDefault: '(unset)',
  }),
  REDIS_TLS: doc(z.stringbool().optional(), {
    group: 'Queue',
    description:
      'TLS to the sentinels and data nodes, or to the cluster nodes (with `REDIS_URL` the scheme decides: `rediss://`). The server certificate is verified against the system CAs, or `REDIS_TLS_CA_FILE`',
    computedDefault: '`true` when a `REDIS_TLS_*_FILE` is set, else `false`',
    accepts: '`true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`)',
  }),
  REDIS_TLS_CA_FILE: doc(optionalString, {
    group: 'Queue',
    description: "PEM file of the CA that signed Redis's certificate (a private CA); read at boot, which stops if it is missing or not PEM",
    computedDefault: '(unset): the system CAs',
    accepts: 'file path',
  }),
  REDIS_TLS_CERT_FILE: doc(optionalString, {
    group: 'Queue',
    description: 'PEM client certificate, for a Redis that asks for one (`tls-auth-clients`); with `REDIS_TLS_KEY_FILE`',
    computedDefault: '(unset)',
    accepts: 'file path',
  }),
  REDIS_TLS_KEY_FILE: doc(optionalString, {
    group: 'Queue',
    description: 'PEM private key of `REDIS_TLS_CERT_FILE`',
    computedDefault: '(unset)',
    accepts: 'file path',
  }),
  QUEUE_BACKEND: doc(z.enum(['redis', 'postgres']).optional(), {
    group: 'Queue',
    description:
      "Where the queue lives: Redis, or BullMQ's PostgreSQL backend (schema `bullmq` of `DATABASE_URL`'s database). `redis` needs `REDIS_URL`, `REDIS_SENTINELS` or `REDIS_CLUSTER_NODES`",
    computedDefault: '`redis` when a Redis topology is set (and not embedded), else `postgres`',
  }),
  QUEUE_PREFIX: doc(z.string().default('bull'), {
    group: 'Queue',
    description:
      "Redis key prefix of the queue (Redis backend only). In cluster mode it must hold a hash tag, e.g. `{webhooks}` or `bull:{webhooks}`, or the queue's scripts fail with CROSSSLOT",
  }),
  WORKER_CONCURRENCY: doc(intFrom(32, 1), {
    group: 'Queue',
    description: 'Events processed at once per worker process (in batch jobs and jobs of their own)',
  }),
  JOB_ATTEMPTS: doc(intFrom(5, 1), { group: 'Queue', description: 'Runs per job before a transient failure dead-letters the event' }),
  JOB_BACKOFF_MS: doc(intFrom(1000), { group: 'Queue', description: 'First retry delay; doubles each attempt' }),
  WORKER_LOCK_DURATION_MS: doc(intFrom(30_000, 1000), {
    group: 'Queue',
    description: "BullMQ job lock; a killed worker's job is taken over after about this long",
  }),
  WORKER_STALLED_INTERVAL_MS: doc(intFrom(30_000, 100), { group: 'Queue', description: 'How often workers look for stalled jobs' }),
  WORKER_WATCHDOG_MS: doc(intFrom(30_000), {
    group: 'Queue',
    description:
      'A worker whose blocking Redis connection is not ready, and that has taken no job for this long while jobs wait, is restarted (a warning and `webhook_queue_worker_restarts_total`): the silent stall some users see after a failover. Its readiness fails meanwhile. 0 turns the watchdog off',
  }),

  TRANSCRIPT_ALLOWED_HOSTS: doc(list, {
    group: 'Transcripts',
    description:
      'Hosts transcripts may be fetched from (http or https), each `host` (any port) or `host:port`; unset: only `https` URLs whose addresses are public',
    computedDefault: '(unset); embedded mode: `127.0.0.1:PORT,localhost:PORT`',
  }),
  TRANSCRIPT_TIMEOUT_MS: doc(intFrom(10_000, 1), {
    group: 'Transcripts',
    description: 'Bound on one transcript download, redirects included',
  }),
  TRANSCRIPT_MAX_BYTES: doc(intFrom(10 * 1024 * 1024, 1), {
    group: 'Transcripts',
    description: 'Larger transcripts are refused (dead letter)',
  }),

  SLACK_WEBHOOK_URL: doc(optionalString.pipe(z.url().optional()), {
    group: 'Slack',
    description: 'Slack incoming webhook; unset: notifications are recorded as `skipped`',
    accepts: 'URL',
  }),
  SLACK_TIMEOUT_MS: doc(intFrom(10_000, 1), { group: 'Slack', description: 'Bound on one Slack POST' }),

  SWEEP_INTERVAL_MS: doc(intFrom(30_000, 100), {
    group: 'Sweeper',
    description: "How often the worker's sweeper looks for rows no job will process",
  }),
  SWEEP_STALE_AFTER_MS: doc(intFrom(60_000, 0), { group: 'Sweeper', description: 'Age after which a `received` row is enqueued again' }),
  SWEEP_STUCK_AFTER_MS: doc(intFrom(600_000, 0), {
    group: 'Sweeper',
    description: 'Idle time after which a `processing` row is put back through processing',
  }),
  INBOX_RETENTION_DAYS: doc(intFrom(0), {
    group: 'Sweeper',
    description:
      'Finished (`processed`, `ignored`) inbox rows received more than this many days ago are deleted by the sweeper; `0` keeps them all',
  }),

  TRANSCRIPT_RETENTION_DAYS: doc(intFrom(0), {
    group: 'Privacy',
    description:
      'Interview transcripts stored more than this many days ago are removed (the interview row stays); `0` keeps them. See docs/privacy.md',
  }),
  INTERVIEW_RETENTION_DAYS: doc(intFrom(0), {
    group: 'Privacy',
    description: 'Interview rows (participant email, duration, transcript) stored more than this many days ago are deleted; `0` keeps them',
  }),
  FEEDBACK_RETENTION_DAYS: doc(intFrom(0), {
    group: 'Privacy',
    description: 'Feedback rows (rating, comment) stored more than this many days ago are deleted; `0` keeps them',
  }),
  NOTIFICATION_RETENTION_DAYS: doc(intFrom(0), {
    group: 'Privacy',
    description:
      'Notification records older than this many days are deleted; `0` keeps them. A replay after that posts to Slack again (the record is what keeps it to one post)',
  }),
  INBOX_PAYLOAD_RETENTION_DAYS: doc(intFrom(0), {
    group: 'Privacy',
    description:
      'Finished and failed inbox rows received more than this many days ago lose their payload (the row, its idempotency key and its outcome stay, so a redelivery is still a duplicate; such a dead letter can no longer be replayed); `0` keeps them. Deleting whole rows is `INBOX_RETENTION_DAYS`',
  }),
  RETENTION_INTERVAL_MINUTES: doc(intFrom(60, 1, 24 * 60), {
    group: 'Privacy',
    description:
      'How often the retention pass runs (one pass per period across every worker process: a BullMQ job scheduler); each pass expires in bounded batches and goes on where the last stopped',
  }),
  ERASURE_HASH_KEY: doc(optionalString, {
    group: 'Privacy',
    description: `Key of the HMAC that erasure tombstones keep instead of an erased email or session id (at least ${MIN_ERASURE_HASH_KEY} characters, e.g. \`openssl rand -hex 32\`). Unset: a random key the service generates once and keeps in its database; see docs/privacy.md for the trade-off`,
    computedDefault: 'a key generated once into the `privacy_keys` table',
  }),

  ADMIN_TOKEN: doc(optionalString, {
    group: 'Admin',
    description: `Bearer token of the admin API, the events console (\`/admin/console\`) and the queue dashboard (\`/admin/queues\`; log in at \`/admin/login\`), for the actor \`admin\` in the audit log; unset (and no \`ADMIN_TOKENS\`): those routes do not exist. Production refuses one shorter than ${MIN_ADMIN_TOKEN} characters (e.g. \`openssl rand -hex 24\`)`,
  }),
  ADMIN_TOKENS: doc(list, {
    group: 'Admin',
    description: `Named admin tokens, \`name:token\` each, so that the audit log says who did what (names: letters, digits, \`.\`, \`_\`, \`-\`); valid beside \`ADMIN_TOKEN\`. Same length rule as \`ADMIN_TOKEN\``,
    accepts: 'comma-separated `name:token` list',
  }),
});

export type Env = z.infer<typeof envSchema>;

/**
 * Variables a deployment sets that Node itself reads, not the service: documented beside the
 * schema, never validated by it.
 */
export const nodeVariables: Record<string, EnvDoc> = {
  NODE_OPTIONS: {
    group: 'Process',
    description:
      'The image caps the V8 heap for a 1536Mi memory limit: keep the cap at about 2/3 of your limit and raise the two together (see docs/benchmarks.md, the heap ceiling)',
    computedDefault: 'image: `--max-old-space-size=1024 --max-semi-space-size=16`; `npm start`: none',
    accepts: 'Node options',
  },
};

/**
 * The standard OpenTelemetry variables the service honours (src/tracing/, docs/operations.md
 * "Tracing"): read by the OpenTelemetry SDK, never validated by the service. Without an endpoint
 * (or an exporter named in OTEL_TRACES_EXPORTER) tracing is off and the SDK is not loaded.
 */
export const otelVariables: Record<string, EnvDoc> = {
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    group: 'Tracing',
    description:
      'Base URL of the OTLP receiver (an OpenTelemetry Collector, Tempo, Jaeger, a vendor): setting it turns tracing on; spans go to `/v1/traces` under it',
    accepts: 'URL, e.g. `http://otel-collector:4318`',
    readBy: 'A standard OpenTelemetry variable, read by the SDK (src/tracing/), not validated by the service',
  },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: {
    group: 'Tracing',
    description: 'Full URL for traces alone, instead of OTEL_EXPORTER_OTLP_ENDPOINT; setting it turns tracing on too',
    accepts: 'URL, e.g. `http://otel-collector:4318/v1/traces`',
    readBy: 'A standard OpenTelemetry variable, read by the SDK (src/tracing/), not validated by the service',
  },
  OTEL_EXPORTER_OTLP_PROTOCOL: {
    group: 'Tracing',
    description: 'How spans are sent',
    computedDefault: '`http/protobuf`',
    accepts: '`http/protobuf`, `http/json` or `grpc`',
    readBy: 'A standard OpenTelemetry variable, read by the SDK (src/tracing/), not validated by the service',
  },
  OTEL_EXPORTER_OTLP_HEADERS: {
    group: 'Tracing',
    description: "Headers on every export (a vendor's API key)",
    accepts: 'comma-separated `key=value` list',
    readBy: 'A standard OpenTelemetry variable, read by the SDK (src/tracing/), not validated by the service',
  },
  OTEL_TRACES_EXPORTER: {
    group: 'Tracing',
    description: '`none` turns tracing off whatever else is set; `console` prints spans to stdout (debugging)',
    computedDefault: '`otlp` when an endpoint is set',
    accepts: '`otlp`, `console` or `none`',
    readBy: 'A standard OpenTelemetry variable, read by the SDK (src/tracing/), not validated by the service',
  },
  OTEL_SERVICE_NAME: {
    group: 'Tracing',
    description: "The `service.name` of the spans; the process's role is the `app.role` resource attribute",
    computedDefault: '`interview-webhooks`',
    accepts: 'string',
    readBy: 'A standard OpenTelemetry variable, read by the SDK (src/tracing/), not validated by the service',
  },
  OTEL_RESOURCE_ATTRIBUTES: {
    group: 'Tracing',
    description: 'More resource attributes on every span, e.g. `deployment.environment.name=production`',
    accepts: 'comma-separated `key=value` list',
    readBy: 'A standard OpenTelemetry variable, read by the SDK (src/tracing/), not validated by the service',
  },
  OTEL_TRACES_SAMPLER: {
    group: 'Tracing',
    description:
      'Which traces are kept; `parentbased_traceidratio` with OTEL_TRACES_SAMPLER_ARG keeps a share of deliveries (its cost: docs/operations.md, What tracing costs), and follows the platform when its request carries a traceparent',
    computedDefault: '`parentbased_always_on`',
    accepts: '`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off` or `parentbased_traceidratio`',
    readBy: 'A standard OpenTelemetry variable, read by the SDK (src/tracing/), not validated by the service',
  },
  OTEL_TRACES_SAMPLER_ARG: {
    group: 'Tracing',
    description: 'The ratio of the `traceidratio` samplers',
    computedDefault: '`1.0`',
    accepts: 'number 0–1',
    readBy: 'A standard OpenTelemetry variable, read by the SDK (src/tracing/), not validated by the service',
  },
  OTEL_SDK_DISABLED: {
    group: 'Tracing',
    description: '`true` turns tracing off whatever else is set',
    computedDefault: '`false`',
    accepts: '`true` or `false`',
    readBy: 'A standard OpenTelemetry variable, read by the SDK (src/tracing/), not validated by the service',
  },
};
