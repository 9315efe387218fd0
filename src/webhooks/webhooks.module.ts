import { Module } from '@nestjs/common';
import { InboxModule } from '../inbox/inbox.module.js';
import { PrivacyModule } from '../privacy/privacy.module.js';
import { WebhookIngestService } from './ingest.service.js';
import { WebhookSignatureGuard } from './webhook-signature.guard.js';
import { WebhookMetrics, webhookMetricProviders } from './webhook.metrics.js';
import { WebhooksController } from './webhooks.controller.js';

/** The front door: POST /webhooks/ai-interview. Loaded for APP_ROLE=api and all. */
@Module({
  imports: [InboxModule, PrivacyModule],
  controllers: [WebhooksController],
  providers: [WebhookIngestService, WebhookSignatureGuard, WebhookMetrics, ...webhookMetricProviders],
  exports: [WebhookMetrics],
})
export class WebhooksModule {}
