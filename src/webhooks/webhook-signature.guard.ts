import { CanActivate, ExecutionContext, Injectable, Logger, UnauthorizedException, UnsupportedMediaTypeException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../config/configuration.js';
import { SignatureScheme } from '../inbox/webhook-event.entity.js';
import { SPAN, startSpan } from '../tracing/spans.js';
import { verifyWebhookSignature } from './webhook-signature.js';

export type WebhookRequest = FastifyRequest & { rawBody?: Buffer; signatureScheme?: SignatureScheme };

/** Lets a delivery through only when its raw bytes carry a valid signature (either scheme). */
@Injectable()
export class WebhookSignatureGuard implements CanActivate {
  private readonly logger = new Logger(WebhookSignatureGuard.name);
  private readonly webhook: AppConfig['webhook'];

  constructor(config: ConfigService<AppConfig, true>) {
    this.webhook = config.get('webhook', { infer: true });
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<WebhookRequest>();
    // Form bodies keep their raw bytes too (and parse into an object): only JSON is a platform delivery.
    if (!Buffer.isBuffer(req.rawBody) || !isJsonMediaType(req.headers['content-type'])) {
      throw new UnsupportedMediaTypeException('Content-Type must be application/json');
    }
    const span = startSpan(SPAN.verifySignature, {});
    const check = verifyWebhookSignature({
      rawBody: req.rawBody,
      headers: req.headers,
      secrets: this.webhook.secrets,
      toleranceSeconds: this.webhook.toleranceSeconds,
    });
    span?.setAttribute('webhook.signature_scheme', check.ok ? check.scheme : 'rejected');
    span?.end();
    if (!check.ok) {
      this.logger.debug(`rejected delivery: ${check.reason}`);
      throw new UnauthorizedException(`invalid webhook signature: ${check.reason}`);
    }
    req.signatureScheme = check.scheme;
    return true;
  }
}

function isJsonMediaType(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';', 1)[0].trim().toLowerCase() === 'application/json';
}
