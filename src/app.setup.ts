import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { AppModule } from './app.module.js';
import { AppConfig } from './config/configuration.js';
import { WEBHOOK_PATH } from './webhooks/webhooks.controller.js';
import { IngestMarks, statusFromResponse, WebhookMetrics } from './webhooks/webhook.metrics.js';

/**
 * Builds the application for a validated configuration: used by main.ts and by the e2e tests,
 * so tests run exactly what production runs.
 */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.webhook.maxBodyBytes,
    // Honour a request id set by a proxy; otherwise make one. It travels with the event into its job.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forConfig(config), adapter, {
    rawBody: true,
    bufferLogs: true,
  });
  app.enableShutdownHooks();

  if (config.app.role !== 'worker') registerIngestMetricsHook(app);
  return app;
}

function registerIngestMetricsHook(app: NestFastifyApplication): void {
  const metrics = app.get(WebhookMetrics);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', (req, reply, done) => {
      // Counted here rather than in the controller so that answers Fastify gives before Nest runs
      // (413, malformed JSON, wrong content type) are counted too.
      if (req.method === 'POST' && req.routeOptions.url === WEBHOOK_PATH) {
        const marks = req as unknown as IngestMarks;
        metrics.record(marks.webhookEvent ?? 'unknown', statusFromResponse(reply.statusCode, marks.ingestStatus), reply.elapsedTime / 1000);
      }
      done();
    });
}
