import { BadRequestException, Controller, HttpCode, Post, Req, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiHeaders,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiSecurity,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
  ApiUnsupportedMediaTypeResponse,
} from '@nestjs/swagger';
import { errorBody } from '../common/all-exceptions.filter.js';
import { parseDelivery } from '../events/delivery.js';
import { eventLabel } from '../events/event-definition.js';
import { activeContext, tracingOn } from '../tracing/spans.js';
import { IngestResult, ingestResult, WebhookIngestService } from './ingest.service.js';
import { WebhookRequest, WebhookSignatureGuard } from './webhook-signature.guard.js';
import {
  SIGNATURE_HEADER,
  SIGNATURE_PATTERN,
  TIMESTAMP_HEADER,
  TIMESTAMP_PATTERN,
  TIMESTAMPED_SIGNATURE_HEADER,
} from './webhook-signature.js';
import { WEBHOOK_PATH } from './webhook.constants.js';
import { IngestMarks } from './webhook.metrics.js';
import { deliveryBodySchema } from './webhook.openapi.js';

const DESCRIPTION = [
  'Signed with either scheme (the timestamped one wins when its header is present):',
  `- \`${SIGNATURE_HEADER}\`: lowercase hex HMAC-SHA256 of the raw body, keyed with WEBHOOK_SECRET (\`sha256=\` prefix accepted);`,
  `- \`${TIMESTAMPED_SIGNATURE_HEADER}\` + \`${TIMESTAMP_HEADER}\`: HMAC-SHA256 of \`\${timestamp}.\${body}\`, refused outside WEBHOOK_TOLERANCE_SECONDS (300).`,
  '',
  '200 means the delivery is stored durably and queued: do not send it again. Each idempotency key (`${event}:${session_id}`) is recorded once;',
  'a repeat gets 200 `duplicate` with the first id. Unknown event types are accepted and recorded.',
  '`npm run send -- <event>` signs and posts a test delivery.',
].join('\n');

const EXAMPLE_ID = '0b8f3c1e-5d7a-4f0e-9a54-2c1d7e6f8a90';

@ApiTags('webhooks')
@Controller()
export class WebhooksController {
  constructor(private readonly ingest: WebhookIngestService) {}

  /** 200 means the event is durable and queued: the platform must not send it again. */
  @Post(WEBHOOK_PATH)
  @HttpCode(200)
  @UseGuards(WebhookSignatureGuard)
  @ApiOperation({ operationId: 'receiveWebhook', summary: 'Receive an InterviewRelay "AI Interview" delivery', description: DESCRIPTION })
  @ApiHeaders([
    {
      name: SIGNATURE_HEADER,
      required: false,
      description: 'HMAC-SHA256 of the raw body (first scheme)',
      schema: { type: 'string', pattern: SIGNATURE_PATTERN },
    },
    {
      name: TIMESTAMPED_SIGNATURE_HEADER,
      required: false,
      description: 'HMAC-SHA256 of `${timestamp}.${body}` (timestamped scheme)',
      schema: { type: 'string', pattern: SIGNATURE_PATTERN },
    },
    {
      name: TIMESTAMP_HEADER,
      required: false,
      description: 'Unix seconds, required with the timestamped scheme',
      schema: { type: 'string', pattern: TIMESTAMP_PATTERN },
    },
  ])
  // Either scheme. Decorators apply bottom-up: the first scheme is listed first.
  @ApiSecurity({ timestampedSignature: [], signatureTimestamp: [] })
  @ApiSecurity('webhookSignature')
  // Documentation only: the body reaches the handler as raw bytes (webhook-body.parser.ts), no pipe touches it.
  @ApiBody({
    required: true,
    description: 'At most WEBHOOK_MAX_BODY_BYTES (1 MiB). Signed over these exact bytes.',
    schema: deliveryBodySchema,
  })
  @ApiOkResponse({
    description: 'Stored and queued (`accepted`), or recorded before (`duplicate`)',
    standardSchema: ingestResult,
    examples: {
      accepted: { summary: 'accepted', value: { status: 'accepted', id: EXAMPLE_ID } },
      duplicate: { summary: 'duplicate', value: { status: 'duplicate', id: EXAMPLE_ID } },
    },
  })
  @ApiBadRequestResponse({
    description: 'Not JSON, not valid UTF-8, or a field is invalid (the message names it). Not stored; do not retry unchanged.',
    standardSchema: errorBody,
  })
  @ApiUnauthorizedResponse({
    description: 'Missing, malformed or wrong signature, or a timestamp outside the tolerance window. Nothing stored.',
    standardSchema: errorBody,
  })
  @ApiPayloadTooLargeResponse({ description: 'Body larger than WEBHOOK_MAX_BODY_BYTES.', standardSchema: errorBody })
  @ApiUnsupportedMediaTypeResponse({ description: 'Content-Type is not application/json.', standardSchema: errorBody })
  @ApiServiceUnavailableResponse({
    description: 'PostgreSQL or the queue cannot take the delivery right now (or the service is shutting down). Retry later.',
    standardSchema: errorBody,
  })
  async receive(@Req() req: WebhookRequest & IngestMarks): Promise<IngestResult> {
    // The guard verified the signature over these bytes; only now are they decoded and parsed.
    const parsed = parseDelivery(req.rawBody);
    req.webhookEvent = eventLabel(parsed.ok ? parsed.value.event : parsed.event);
    if (!parsed.ok) throw new BadRequestException(parsed.message);

    const outcome = await this.ingest.accept({
      event: parsed.value,
      scheme: req.signatureScheme!,
      requestId: String(req.id),
      // The delivery's trace: its inbox write and enqueue spans join it, and its job carries it on.
      trace: tracingOn() ? activeContext() : undefined,
    });
    if (outcome.status === 'unavailable') {
      throw new ServiceUnavailableException(`cannot record the event right now (${outcome.reason}); retry later`);
    }
    if (outcome.status === 'unstorable') throw new BadRequestException(`request body cannot be stored: ${outcome.reason}`);
    req.ingestStatus = outcome.status;
    return outcome;
  }
}
