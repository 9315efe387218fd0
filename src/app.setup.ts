import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppModule } from './app.module.js';
import { AllExceptionsFilter } from './common/all-exceptions.filter.js';
import { AppConfig } from './config/configuration.js';
import { setupApiDocs } from './docs/api-docs.js';
import { LifecycleService } from './health/lifecycle.service.js';
import { ManagementAccess } from './health/management.js';
import { runWithLogContext } from './logging/log-context.js';
import { createLogger, redactUrl } from './logging/logger.js';
import { PinoLoggerService } from './logging/pino-logger.service.js';
import { activeSpanContext, tracingOn } from './tracing/spans.js';
import { registerBodyParsers } from './webhooks/webhook-body.parser.js';
import { WEBHOOK_PATH } from './webhooks/webhook.constants.js';
import { IngestMarks, statusFromResponse, WebhookMetrics } from './webhooks/webhook.metrics.js';

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** The caller's X-Request-Id when it is a sane token (it ends up in logs and rows), else a uuid. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** Probes and scrapes: answered during shutdown and left out of the request log. */
export function isProbePath(url: string): boolean {
  return url === '/metrics' || url.startsWith('/metrics?') || url.startsWith('/health/');
}

/**
 * Builds the application for a validated configuration: used by main.ts and by the e2e tests,
 * so tests run exactly what production runs.
 */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const logger = await createLogger({
    level: config.app.logLevel,
    // Readable lines for a person at a terminal; JSON for everything else (containers, CI).
    pretty: process.stdout.isTTY === true,
    base: { service: 'interview-webhooks', role: config.app.role },
    activeSpan: tracingOn() ? activeSpanContext : undefined,
  });
  for (const warning of config.warnings) logger.warn(warning);

  const adapter = new FastifyAdapter({
    bodyLimit: config.webhook.maxBodyBytes,
    ...httpTimeouts(config.app.requestTimeoutMs),
    // Honour a request id set by a proxy (if it looks like one); otherwise make one. It travels with
    // the event into its job and its log lines.
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => requestIdFrom(req.headers['x-request-id']),
    loggerInstance: logger,
    logController: new RequestLogController({ requestIdLogLabel: 'requestId' }),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forConfig(config), adapter, {
    rawBody: true,
    logger: new PinoLoggerService(logger),
  });
  // process.exit(0) once the hooks have run, rather than re-raising the signal (exit code 143).
  app.enableShutdownHooks([], { useProcessExit: true });
  app.useGlobalFilters(new AllExceptionsFilter());
  registerBodyParsers(app, config.webhook.maxBodyBytes);

  const fastify = app.getHttpAdapter().getInstance();
  registerRequestHooks(fastify, app.get(LifecycleService), app.get(ManagementAccess));
  if (config.app.role !== 'worker') registerIngestMetricsHook(app);
  // OpenAPI: Swagger UI at /docs, the document at /docs-json (off in production unless API_DOCS).
  if (config.app.role !== 'worker' && config.app.apiDocs) setupApiDocs(app);
  return app;
}

/**
 * A client gets HTTP_REQUEST_TIMEOUT_MS to send a whole request (headers within 10 s of that), then
 * the request is answered 408 and the connection closed: a body trickled byte by byte cannot hold
 * a connection and its buffers open. Node checks these bounds every `connectionsCheckingInterval`
 * (30 s by default, which would let a stalled body live twice as long). Idle keep-alive
 * connections close after 72 s, longer than the usual load balancer idle timeout (60 s), so the
 * balancer never reuses a connection the service is closing.
 */
function httpTimeouts(requestTimeoutMs: number) {
  return {
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: 72_000,
    http: {
      headersTimeout: Math.min(10_000, requestTimeoutMs),
      connectionsCheckingInterval: Math.min(1000, requestTimeoutMs),
    },
  };
}

/**
 * One `info` line per answered request (method, url, status, time, request id); none for probes
 * and scrapes. Fastify's "incoming request" line is demoted to debug.
 */
class RequestLogController extends LogController {
  override isLogDisabled(req: FastifyRequest): boolean {
    return isProbePath(req.url);
  }

  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    const fields = {
      method: request.method,
      url: redactUrl(request.url),
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
    };
    if (error) reply.log.error({ ...fields, err: error }, 'request errored');
    else reply.log.info(fields, 'request completed');
  }
}

function registerRequestHooks(fastify: FastifyInstance, lifecycle: LifecycleService, management: ManagementAccess): void {
  fastify.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-request-id', req.id);
    // With MANAGEMENT_PORT the probes and metrics are served there only (health/management.server.ts).
    if (isProbePath(req.url) && management.refusesOnPublicPort(req)) {
      void reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `Route GET:${req.url.split('?')[0]} not found` });
      return;
    }
    // Once shutdown has begun, only probes and scrapes are served: deliveries get 503 (the platform
    // retries them) and the connection is closed so the client reconnects elsewhere.
    if (lifecycle.shuttingDown && !isProbePath(req.url)) {
      void reply
        .code(503)
        .header('connection', 'close')
        .header('retry-after', '5')
        .send({ statusCode: 503, error: 'Service Unavailable', message: 'shutting down; retry later' });
      return;
    }
    done();
  });
  // After the body is read, so that guards, controllers and services run inside this context and
  // Nest's Logger lines carry the request id.
  // The actor: set on a dashboard request by its gate (admin/admin-session.ts); the admin API's guard adds it.
  fastify.addHook('preHandler', (req, _reply, done) =>
    runWithLogContext({ requestId: String(req.id), actor: (req as { actor?: string }).actor }, done),
  );
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
