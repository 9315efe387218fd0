import { BadRequestException, Controller, HttpCode, Post, Req, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { isUtf8 } from 'node:buffer';
import { eventLabel, ParseResult, validateDelivery } from './webhook-payload.js';
import { WebhookIngestService } from './webhook-ingest.service.js';
import { WebhookRequest, WebhookSignatureGuard } from './webhook-signature.guard.js';
import { IngestMarks } from './webhook.metrics.js';

export const WEBHOOK_PATH = '/webhooks/ai-interview';

@Controller()
export class WebhooksController {
  constructor(private readonly ingest: WebhookIngestService) {}

  /** 200 means the event is durable and queued: the platform must not send it again. */
  @Post(WEBHOOK_PATH)
  @HttpCode(200)
  @UseGuards(WebhookSignatureGuard)
  async receive(@Req() req: WebhookRequest & IngestMarks): Promise<{ status: 'accepted' | 'duplicate'; id: string }> {
    // Fastify decoded the body leniently (invalid bytes become U+FFFD); the signed bytes must be UTF-8.
    const parsed: ParseResult = isUtf8(req.rawBody!) ? validateDelivery(req.body) : { ok: false, message: 'request body is not valid UTF-8' };
    req.webhookEvent = eventLabel(parsed.ok ? parsed.value.event : parsed.event);
    if (!parsed.ok) throw new BadRequestException(parsed.message);

    const outcome = await this.ingest.accept({ event: parsed.value, scheme: req.signatureScheme!, requestId: String(req.id) });
    if (outcome.status === 'unavailable') {
      throw new ServiceUnavailableException(`cannot record the event right now (${outcome.reason}); retry later`);
    }
    req.ingestStatus = outcome.status;
    return outcome;
  }
}
