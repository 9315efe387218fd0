import { BadRequestException, Controller, HttpCode, Post, Req, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { parseDelivery } from '../events/delivery.js';
import { eventLabel } from '../events/event-definition.js';
import { WebhookIngestService } from './ingest.service.js';
import { WebhookRequest, WebhookSignatureGuard } from './webhook-signature.guard.js';
import { WEBHOOK_PATH } from './webhook.constants.js';
import { IngestMarks } from './webhook.metrics.js';

@Controller()
export class WebhooksController {
  constructor(private readonly ingest: WebhookIngestService) {}

  /** 200 means the event is durable and queued: the platform must not send it again. */
  @Post(WEBHOOK_PATH)
  @HttpCode(200)
  @UseGuards(WebhookSignatureGuard)
  async receive(@Req() req: WebhookRequest & IngestMarks): Promise<{ status: 'accepted' | 'duplicate'; id: string }> {
    // The guard verified the signature over these bytes; only now are they decoded and parsed.
    const parsed = parseDelivery(req.rawBody);
    req.webhookEvent = eventLabel(parsed.ok ? parsed.value.event : parsed.event);
    if (!parsed.ok) throw new BadRequestException(parsed.message);

    const outcome = await this.ingest.accept({ event: parsed.value, scheme: req.signatureScheme!, requestId: String(req.id) });
    if (outcome.status === 'unavailable') {
      throw new ServiceUnavailableException(`cannot record the event right now (${outcome.reason}); retry later`);
    }
    if (outcome.status === 'unstorable') throw new BadRequestException(`request body cannot be stored: ${outcome.reason}`);
    req.ingestStatus = outcome.status;
    return outcome;
  }
}
