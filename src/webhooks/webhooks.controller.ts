import { BadRequestException, Controller, HttpCode, Post, Req, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { eventLabel, validateDelivery } from './webhook-payload.js';
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
    const parsed = validateDelivery(req.body);
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
