import type { ChildProcess } from 'node:child_process';

export function sleep(ms: number): Promise<void>;
/** Polls `fn` every `intervalMs` (default 50) until it returns something truthy, and returns that; false after `timeoutMs`. */
export function waitFor<T>(fn: () => Promise<T>, timeoutMs: number, intervalMs?: number): Promise<T | false>;
/** Runs `hook` (synchronous) when the process exits; returns a function that unregisters it. */
export function onExit(hook: () => void): () => void;
/** A TCP port free on 127.0.0.1 right now (also used as a port nothing listens on). */
export function freePort(): Promise<number>;
/** Unlinks every key matching the SCAN `pattern` whose name also passes `keep` (default: all); resolves with how many. */
export function dropKeys(redisUrl: string, pattern: string, keep?: (key: string) => boolean): Promise<number>;

export interface ThrowawayDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}
/** A fresh database (`<prefix>_<time>_<random>`) on the server of `adminUrl`; keeps no connection open. */
export function createDatabase(adminUrl: string, opts?: { prefix?: string }): Promise<ThrowawayDatabase>;

export interface StartServiceOptions {
  /** The script to run (default: `dist/main.js` under `cwd`). */
  entry?: string;
  /** The whole environment of the process (nothing is inherited; PATH is added when missing). */
  env?: Record<string, string>;
  /** Default: a free port. */
  port?: number;
  cwd?: string;
  /** Arguments for node before the script (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** How long to wait for an HTTP answer (default 30 s). */
  timeoutMs?: number;
  /** The path polled until it answers, whatever the status (default `/health/live`). */
  readyPath?: string;
}
export interface StartedService {
  child: ChildProcess;
  port: number;
  baseUrl: string;
  /** Everything the process printed so far (stdout and stderr; the last 4-8 MB of a long run). */
  output(): string;
  /** Sends `signal` (default SIGTERM), SIGKILL after `timeoutMs` (default 30 s); resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}
/** Starts `node dist/main.js` (or `entry`) and waits until it answers HTTP. */
export function startService(opts: StartServiceOptions): Promise<StartedService>;

export interface PrivatePostgres {
  url: string;
  port: number;
  /** The temp folder (socket, log) and the cluster's data directory inside it. */
  dir: string;
  dataDir: string;
  /** The postmaster's pid while it runs. */
  pid(): number | undefined;
  start(): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops the server and removes its folder; `keepData` stops it cleanly and leaves the folder. */
  dispose(opts?: { keepData?: boolean }): Promise<void>;
}
/** A started cluster of its own (initdb in a temp folder); `settings` go into its postgresql.conf. */
export function privatePostgres(opts?: { settings?: Record<string, string | number> }): Promise<PrivatePostgres>;

export interface PrivateRedis {
  url: string;
  port: number;
  start(): Promise<void>;
  /** 'nosave': SHUTDOWN NOSAVE (data gone, as with this machine's config); 'kill': SIGKILL; 'term' (default): SIGTERM. */
  stop(how?: 'nosave' | 'kill' | 'term'): Promise<void>;
  dispose(): Promise<void>;
}
/** A started redis-server of its own on a spare port: no RDB snapshots, AOF (everysec) when `appendonly`. */
export function privateRedis(opts?: { appendonly?: boolean }): Promise<PrivateRedis>;

export interface PrivatePrometheus {
  /** The HTTP API, e.g. `${url}/api/v1/query`. */
  url: string;
  port: number;
  /** The last 16 KB it logged. */
  log(): string;
  dispose(): Promise<void>;
}
/** A started Prometheus of its own scraping `targets` (host:port) every second; `features` go to --enable-feature. */
export function privatePrometheus(opts: { targets: string[]; features?: string[]; metricsPath?: string }): Promise<PrivatePrometheus>;

export interface PrivatePgBouncer {
  port: number;
  dir: string;
  /** `target` with PgBouncer's address instead. */
  url: string;
  /** PgBouncer's log so far. */
  log(): string;
  start(): Promise<void>;
  /** 'kill': SIGKILL (every connection cut at once); 'term' (default): SIGTERM. */
  stop(how?: 'kill' | 'term'): Promise<void>;
  dispose(): Promise<void>;
}
/** A started PgBouncer of its own (trust auth, every database forwarded) in front of the PostgreSQL `target` URL. */
export function privatePgBouncer(opts: {
  target: string;
  poolMode?: 'session' | 'transaction';
  poolSize?: number;
}): Promise<PrivatePgBouncer>;

export interface Certificates {
  dir: string;
  /** File paths. */
  ca: string;
  cert: string;
  key: string;
  /** With `client`: a client certificate the same CA signed, and its key. */
  clientCert?: string;
  clientKey?: string;
  dispose(): void;
}
/** A CA and a server certificate it signed for `hosts` (default localhost and 127.0.0.1), made with openssl. */
export function makeCertificates(opts?: { hosts?: string[]; name?: string; client?: string }): Certificates;

// Private Redis Sentinel and Redis Cluster (redis helper's block).
export interface PrivateRedisChild {
  port: number;
  child: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}
export interface PrivateSentinel {
  name: string;
  primaryPort: number;
  replicaPort: number;
  sentinelPorts: number[];
  /** As REDIS_SENTINELS takes it. */
  sentinels: string;
  /** host:port of the primary as a sentinel sees it now. */
  master(): string | undefined;
  server(port: number): PrivateRedisChild | undefined;
  dispose(): Promise<void>;
}
/** A primary (basePort), a replica (basePort+1) and sentinels (basePort+2..) watching it as `name`. */
export function privateSentinel(opts: {
  basePort: number;
  name?: string;
  sentinels?: number;
  downAfterMs?: number;
}): Promise<PrivateSentinel>;
export interface PrivateCluster {
  ports: number[];
  /** The primaries as REDIS_CLUSTER_NODES takes them. */
  nodes: string;
  slotOwner(slot: number): number | undefined;
  keySlot(key: string): number | undefined;
  server(port: number): PrivateRedisChild | undefined;
  dispose(): Promise<void>;
}
/** A Redis Cluster on basePort.. (masters × (1 + replicasPerMaster) nodes, bus ports +10000), cluster_state:ok. */
export function privateCluster(opts: {
  basePort: number;
  masters?: number;
  replicasPerMaster?: number;
  nodeTimeoutMs?: number;
}): Promise<PrivateCluster>;
export interface PrivateTlsRedis {
  port: number;
  /** rediss://127.0.0.1:port */
  url: string;
  /** PEM files: the CA, a client certificate and its key. */
  ca: string;
  cert: string;
  key: string;
  dispose(): Promise<void>;
}
/** A redis-server answering only TLS on `port`, certificates made with openssl; requires a client certificate when `clientCerts` (default). */
export function privateTlsRedis(opts: { port: number; clientCerts?: boolean }): Promise<PrivateTlsRedis>;
