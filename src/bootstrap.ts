import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.setup.js';
import { ConfigError, loadConfig } from './config/configuration.js';
import { prepareLocalMode } from './embedded/local-mode.js';

/** Validates the configuration, builds the application and listens (main.ts loads this once tracing is set up). */
export async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
    // Outside production: generated webhook secret and embedded PostgreSQL when those are unset.
    await prepareLocalMode(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      // One line an operator can act on, not a stack trace.
      console.error(`Refusing to start: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const app = await createApp(config);
  await app.listen(config.app.port, config.app.host);
  new Logger('Bootstrap').log(`Listening on ${config.app.host}:${config.app.port} (role: ${config.app.role})`);
}
