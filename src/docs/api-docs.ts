import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { deliveryFields } from '../events/delivery.js';
import { knownEvents } from '../events/event-definition.js';
import { WEBHOOK_EVENT_STATUSES } from '../inbox/webhook-event.entity.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, TIMESTAMPED_SIGNATURE_HEADER } from '../webhooks/webhook-signature.js';
import { WEBHOOK_PATH } from '../webhooks/webhook.constants.js';
import { openApiSchema } from './zod-openapi.js';

export const DOCS_PATH = 'docs';

type Schema = Record<string, unknown>;
type Operation = Record<string, unknown>;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const fromZod = (schema: z.ZodType): Schema => openApiSchema(schema, 'input').schema as Schema;

/** Component name of an event's schema: interview.completed → InterviewCompleted. */
const componentName = (event: string) => event.replace(/(^|[._:-])(\w)/g, (_m, _sep: string, c: string) => c.toUpperCase());

function schemas(): Record<string, Schema> {
  const errorSchema: Schema = {
    type: 'object',
    properties: {
      statusCode: { type: 'integer' },
      error: { type: 'string' },
      message: { type: 'string', description: 'What was wrong; for 400 it names the field' },
      requestId: { type: 'string', description: 'The request id (also in the x-request-id header)' },
    },
    required: ['statusCode', 'message'],
  };
  const eventSummary: Schema = {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      event: { type: 'string' },
      session_id: { type: 'string' },
      status: { type: 'string', enum: [...WEBHOOK_EVENT_STATUSES] },
      attempts: { type: 'integer' },
      last_error: { type: 'string', nullable: true },
      request_id: { type: 'string', nullable: true },
      received_at: { type: 'string', format: 'date-time' },
      processed_at: { type: 'string', format: 'date-time', nullable: true },
      updated_at: { type: 'string', format: 'date-time' },
    },
  };
  const events = Object.fromEntries(
    knownEvents().map((d) => [
      componentName(d.name),
      { ...fromZod(deliveryFields.extend(d.payload.shape).extend({ event: z.literal(d.name) })), description: d.description, example: d.example },
    ]),
  );
  return {
    ...events,
    OtherEvent: {
      ...fromZod(deliveryFields),
      description: 'Any other event type: recorded and answered 200 like the others, then marked `ignored` (replayable once a handler exists).',
      example: { event: 'interview.scheduled', session_id: 'sess_8f2k1', timestamp: '2026-11-27T09:00:00Z' },
    },
    Envelope: {
      type: 'object',
      description: 'The newer `{ type, data }` shape: `data` holds the fields of the event above it, without `event`. Normalised to the first shape before storage.',
      properties: { type: { type: 'string', example: 'interview.completed' }, data: { type: 'object', additionalProperties: true } },
      required: ['type', 'data'],
      example: { type: 'session.feedback_submitted', data: { session_id: 'sess_8f2k1', feedback: { rating: 4 } } },
    },
    IngestResult: {
      type: 'object',
      properties: {
        status: { type: 'string', enum: ['accepted', 'duplicate'], description: '`duplicate`: this idempotency key (`${event}:${session_id}`) was recorded before' },
        id: { type: 'string', format: 'uuid', description: 'The inbox row (the first one, for a duplicate)' },
      },
      required: ['status', 'id'],
    },
    Error: errorSchema,
    EventSummary: eventSummary,
    EventDetail: {
      allOf: [
        ref('EventSummary'),
        {
          type: 'object',
          properties: {
            idempotency_key: { type: 'string' },
            signature_scheme: { type: 'string', enum: ['signature', 'timestamped'] },
            payload: { type: 'object', additionalProperties: true },
          },
        },
      ],
    },
  };
}

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });

function webhookOperation(): Operation {
  const header = (name: string, description: string, pattern?: string) => ({
    name,
    in: 'header',
    required: false,
    description,
    schema: { type: 'string', ...(pattern ? { pattern } : {}) },
  });
  return {
    tags: ['webhooks'],
    operationId: 'receiveWebhook',
    summary: 'Receive an InterviewRelay "AI Interview" delivery',
    description: [
      'Signed with either scheme (the timestamped one wins when its header is present):',
      `- \`${SIGNATURE_HEADER}\`: lowercase hex HMAC-SHA256 of the raw body, keyed with WEBHOOK_SECRET (\`sha256=\` prefix accepted);`,
      `- \`${TIMESTAMPED_SIGNATURE_HEADER}\` + \`${TIMESTAMP_HEADER}\`: HMAC-SHA256 of \`\${timestamp}.\${body}\`, refused outside WEBHOOK_TOLERANCE_SECONDS (300).`,
      '',
      '200 means the delivery is stored durably and queued: do not send it again. Each idempotency key (`${event}:${session_id}`) is recorded once;',
      'a repeat gets 200 `duplicate` with the first id. Unknown event types are accepted and recorded.',
      '`npm run send -- <event>` signs and posts a test delivery.',
    ].join('\n'),
    parameters: [
      header(SIGNATURE_HEADER, 'HMAC-SHA256 of the raw body (first scheme)', '^(sha256=)?[0-9a-fA-F]{64}$'),
      header(TIMESTAMPED_SIGNATURE_HEADER, 'HMAC-SHA256 of `${timestamp}.${body}` (timestamped scheme)', '^(sha256=)?[0-9a-fA-F]{64}$'),
      header(TIMESTAMP_HEADER, 'Unix seconds, required with the timestamped scheme', '^[0-9]{1,12}$'),
    ],
    security: [{ webhookSignature: [] }, { timestampedSignature: [], signatureTimestamp: [] }],
    requestBody: {
      required: true,
      description: 'At most WEBHOOK_MAX_BODY_BYTES (1 MiB). Signed over these exact bytes.',
      content: {
        'application/json': {
          schema: { oneOf: [...knownEvents().map((d) => ref(componentName(d.name))), ref('OtherEvent'), ref('Envelope')] },
        },
      },
    },
    responses: {
      '200': {
        description: 'Stored and queued (`accepted`), or recorded before (`duplicate`)',
        content: {
          'application/json': {
            schema: ref('IngestResult'),
            examples: {
              accepted: { value: { status: 'accepted', id: '0b8f3c1e-5d7a-4f0e-9a54-2c1d7e6f8a90' } },
              duplicate: { value: { status: 'duplicate', id: '0b8f3c1e-5d7a-4f0e-9a54-2c1d7e6f8a90' } },
            },
          },
        },
      },
      '400': errorResponse('Not JSON, not valid UTF-8, or a field is invalid (the message names it). Not stored; do not retry unchanged.'),
      '401': errorResponse('Missing, malformed or wrong signature, or a timestamp outside the tolerance window. Nothing stored.'),
      '413': errorResponse('Body larger than WEBHOOK_MAX_BODY_BYTES.'),
      '415': errorResponse('Content-Type is not application/json.'),
      '503': errorResponse('PostgreSQL or the queue cannot take the delivery right now (or the service is shutting down). Retry later.'),
    },
  };
}

function adminPaths(): Record<string, Record<string, Operation>> {
  const common = { tags: ['admin'], security: [{ admin: [] }] };
  const unauthorized = errorResponse('Missing or wrong bearer token');
  const q = (name: string, schema: Schema, description: string) => ({ name, in: 'query', required: false, schema, description });
  const id = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
  const json = (schema: Schema, description: string) => ({ description, content: { 'application/json': { schema } } });
  const note = 'Exists only when ADMIN_TOKEN is set (404 otherwise).';
  return {
    '/admin/events': {
      get: {
        ...common,
        operationId: 'listEvents',
        summary: 'List inbox events, newest first',
        description: note,
        parameters: [
          q('status', { type: 'string', enum: [...WEBHOOK_EVENT_STATUSES] }, 'Only events in this state'),
          q('event', { type: 'string' }, 'Only this event type'),
          q('session_id', { type: 'string' }, 'Only this session'),
          q('limit', { type: 'integer', minimum: 1, maximum: 200, default: 50 }, 'Page size'),
          q('cursor', { type: 'string' }, '`next_cursor` of the previous page'),
        ],
        responses: {
          '200': json({ type: 'object', properties: { items: { type: 'array', items: ref('EventSummary') }, next_cursor: { type: 'string', nullable: true } } }, 'A page of events; `next_cursor` is null on the last page'),
          '400': errorResponse('Invalid filter or cursor'),
          '401': unauthorized,
        },
      },
    },
    '/admin/events/replay': {
      post: {
        ...common,
        operationId: 'replayEvents',
        summary: 'Send failed (or ignored) events back through processing, oldest first',
        description: note,
        parameters: [
          q('status', { type: 'string', enum: ['failed', 'ignored'], default: 'failed' }, 'Which events'),
          q('event', { type: 'string' }, 'Only this event type'),
          q('limit', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, 'At most this many'),
        ],
        responses: {
          '202': json({ type: 'object', properties: { count: { type: 'integer' }, queued: { type: 'boolean' } } }, 'Reopened and queued'),
          '400': errorResponse('Invalid filter'),
          '401': unauthorized,
        },
      },
    },
    '/admin/events/{id}': {
      get: {
        ...common,
        operationId: 'getEvent',
        summary: 'One event with its payload',
        description: note,
        parameters: [id],
        responses: { '200': json(ref('EventDetail'), 'The event'), '400': errorResponse('Not a uuid'), '401': unauthorized, '404': errorResponse('No such event') },
      },
    },
    '/admin/events/{id}/replay': {
      post: {
        ...common,
        operationId: 'replayEvent',
        summary: 'Send one failed or ignored event back through processing (fresh job id)',
        description: note,
        parameters: [id],
        responses: {
          '202': json(
            { type: 'object', properties: { id: { type: 'string', format: 'uuid' }, status: { type: 'string', enum: ['received'] }, job_id: { type: 'string' }, queued: { type: 'boolean' } } },
            'Reopened and queued',
          ),
          '400': errorResponse('Not a uuid'),
          '401': unauthorized,
          '404': errorResponse('No such event'),
          '409': errorResponse('The event is not failed or ignored'),
        },
      },
    },
  };
}

/** Builds the OpenAPI document: Nest's scan of the controllers, completed with what it cannot infer. */
export function buildApiDocument(app: NestFastifyApplication, version: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('interview-webhooks')
    .setDescription(
      'Receives InterviewRelay "AI Interview" webhooks: signed deliveries are recorded exactly once in PostgreSQL, queued, and processed into interviews, feedback and Slack notifications.\n\n' +
        'The queue dashboard (Bull Board) is at `/admin/queues` (log in at `/admin/login` with ADMIN_TOKEN). Prometheus metrics at `/metrics`.',
    )
    .setVersion(version)
    .addSecurityRequirements({})
    .addApiKey({ type: 'apiKey', in: 'header', name: SIGNATURE_HEADER, description: 'Hex HMAC-SHA256 of the raw body' }, 'webhookSignature')
    .addApiKey({ type: 'apiKey', in: 'header', name: TIMESTAMPED_SIGNATURE_HEADER, description: 'Hex HMAC-SHA256 of `${timestamp}.${body}`' }, 'timestampedSignature')
    .addApiKey({ type: 'apiKey', in: 'header', name: TIMESTAMP_HEADER, description: 'Unix seconds' }, 'signatureTimestamp')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' }, 'admin')
    .addTag('webhooks', 'What the InterviewRelay platform calls')
    .addTag('admin', 'The operator\'s dead-letter desk (Bearer ADMIN_TOKEN)')
    .addTag('operations', 'Probes and metrics')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  delete document.security;

  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...schemas() } };
  document.paths[WEBHOOK_PATH] = { post: webhookOperation() as never };
  // The admin API is described here rather than inferred (its controller parses its query with zod),
  // and listed whether or not ADMIN_TOKEN is set in this process.
  for (const [path, ops] of Object.entries(adminPaths())) document.paths[path] = ops as never;
  for (const [path, item] of Object.entries(document.paths)) {
    if (path === '/metrics' || path.startsWith('/health')) {
      for (const op of Object.values(item)) if (typeof op === 'object' && op && 'responses' in op) (op as { tags?: string[] }).tags = ['operations'];
    }
  }
  return document;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Swagger UI at /docs, the document at /docs-json (and /docs-yaml), built on first request. */
export function setupApiDocs(app: NestFastifyApplication): void {
  const version = packageVersion();
  SwaggerModule.setup(DOCS_PATH, app, () => buildApiDocument(app, version), {
    jsonDocumentUrl: `${DOCS_PATH}-json`,
    yamlDocumentUrl: `${DOCS_PATH}-yaml`,
    customSiteTitle: 'interview-webhooks API',
  });
}
