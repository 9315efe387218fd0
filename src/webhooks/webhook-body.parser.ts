import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { WEBHOOK_PATH } from './webhook.constants.js';

type Done = (err: Error | null, body?: unknown) => void;

function isWebhookRoute(req: FastifyRequest): boolean {
  return req.routeOptions.url === WEBHOOK_PATH;
}

/**
 * Body parsing for the whole app, with one rule for the webhook route: its body stays the raw bytes
 * (`req.rawBody`, and `req.body` too) until WebhookSignatureGuard has verified the signature over
 * them; the controller parses only signed bytes. Parsing first would let anyone without the secret
 * spend the service's CPU: an unsigned 0.7 MiB body of 70,000 keys took ~114 ms to parse.
 * Elsewhere JSON is parsed by Fastify's own parser (prototype poisoning refused) and forms (the
 * admin login) into a prototype-less object.
 */
export function registerBodyParsers(app: NestFastifyApplication, bodyLimit: number): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser('application/json', { bodyLimit }, (req: FastifyRequest, body: Buffer, done: Done) => {
    if (isWebhookRoute(req)) done(null, body);
    else void parseJson(req, body.toString('utf8'), done);
  });
  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit }, (req: FastifyRequest, body: Buffer, done: Done) => {
    if (isWebhookRoute(req)) done(null, body);
    else done(null, Object.assign(Object.create(null) as object, Object.fromEntries(new URLSearchParams(body.toString('utf8')))));
  });
}
