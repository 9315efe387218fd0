import { existsSync } from 'node:fs';
import { startTracing } from './tracing/start-tracing.js';

if (existsSync('.env')) process.loadEnvFile('.env');
// Tracing first: its instrumentations hook pg, ioredis, http and Fastify as the application's modules
// load, so the application is imported only once it is set up (nothing is loaded without OTEL_* settings).
try {
  await startTracing(process.env, process.env.APP_ROLE ?? 'all');
} catch (err) {
  console.error(`Tracing not started (check the OTEL_* settings): ${(err as Error).message}`);
}
const { bootstrap } = await import('./bootstrap.js');
await bootstrap();
