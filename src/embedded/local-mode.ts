import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppConfig } from '../config/configuration.js';
import { EmbeddedDatabase, startEmbeddedDatabase } from './embedded-database.js';

export const WEBHOOK_SECRET_FILE = 'webhook-secret';

let running: EmbeddedDatabase | undefined;

/** The embedded database started by prepareLocalMode, if any (stopped by EmbeddedModule at shutdown). */
export function runningEmbeddedDatabase(): EmbeddedDatabase | undefined {
  return running;
}

/**
 * Fills in what a local run may leave unset (never in production: loadConfig refuses that):
 * - no WEBHOOK_SECRET: one is generated once and kept in DATA_DIR/webhook-secret;
 * - no DATABASE_URL: PGlite starts under DATA_DIR/pglite and `config.database.url` points at it.
 * Call it once, after loadConfig and before createApp.
 */
export async function prepareLocalMode(config: AppConfig, logger = new Logger('LocalMode')): Promise<AppConfig> {
  const dataDir = resolve(config.app.dataDir);
  if (config.webhook.secrets.length === 0) {
    const { secret, file, created } = loadOrCreateWebhookSecret(dataDir);
    config.webhook.secrets = [secret];
    logger.warn(
      `WEBHOOK_SECRET is not set: ${created ? 'generated a signing secret and saved it' : 'using the signing secret saved'} in ${file} (npm run send uses it too)`,
    );
  }
  if (config.database.embedded) {
    const started = Date.now();
    running = await startEmbeddedDatabase(dataDir);
    config.database.url = running.url;
    const banner = '='.repeat(100);
    logger.warn(banner);
    logger.warn(
      `EMBEDDED MODE: DATABASE_URL is not set, so PostgreSQL runs inside this process (PGlite), started in ${Date.now() - started} ms.`,
    );
    logger.warn(`Data lives in ${running.dataDir} (delete that directory to start afresh). Queue backend: ${config.queue.backend}.`);
    logger.warn(`For local development and trials only: set DATABASE_URL (and REDIS_URL) to run on a real server.`);
    logger.warn(banner);
  }
  return config;
}

/** Reads DATA_DIR/webhook-secret, creating it (readable by the owner only) when missing. */
export function loadOrCreateWebhookSecret(dataDir: string): { secret: string; file: string; created: boolean } {
  const file = join(dataDir, WEBHOOK_SECRET_FILE);
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length > 0) return { secret, file, created: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { secret, file, created: true };
}
