import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SchemaObject, SwaggerModule } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, TIMESTAMPED_SIGNATURE_HEADER } from '../webhooks/webhook-signature.js';
import { deliverySchemas } from '../webhooks/webhook.openapi.js';
import { openApiSchema, zodSchemaConverter } from './zod-openapi.js';

export const DOCS_PATH = 'docs';

/** The delivery schemas the webhook route's body refers to by name, from the event registry as it is now. */
function deliveryComponents(): Record<string, SchemaObject> {
  const components: Record<string, SchemaObject> = {};
  for (const [name, schema] of Object.entries(deliverySchemas())) {
    const converted = openApiSchema(schema, 'input');
    Object.assign(components, converted.components, { [name]: converted.schema });
  }
  return components;
}

/**
 * The OpenAPI document: Nest's scan of the controllers and their decorators, with the schemas of
 * zod schemas (zod-openapi.ts). Admin routes are listed when this process serves them (ADMIN_TOKEN).
 */
export function buildApiDocument(app: NestFastifyApplication, version: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('interview-webhooks')
    .setDescription(
      'Receives InterviewRelay "AI Interview" webhooks: signed deliveries are recorded exactly once in PostgreSQL, queued, and processed into interviews, feedback and Slack notifications.\n\n' +
        'The queue dashboard (Bull Board) is at `/admin/queues` (log in at `/admin/login` with ADMIN_TOKEN). Prometheus metrics at `/metrics`.',
    )
    .setVersion(version)
    .addApiKey({ type: 'apiKey', in: 'header', name: SIGNATURE_HEADER, description: 'Hex HMAC-SHA256 of the raw body' }, 'webhookSignature')
    .addApiKey(
      { type: 'apiKey', in: 'header', name: TIMESTAMPED_SIGNATURE_HEADER, description: 'Hex HMAC-SHA256 of `${timestamp}.${body}`' },
      'timestampedSignature',
    )
    .addApiKey({ type: 'apiKey', in: 'header', name: TIMESTAMP_HEADER, description: 'Unix seconds' }, 'signatureTimestamp')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' }, 'admin')
    .addTag('webhooks', 'What the InterviewRelay platform calls')
    .addTag('admin', "The operator's dead-letter desk (Bearer ADMIN_TOKEN; listed only when ADMIN_TOKEN is set)")
    .addTag('operations', 'Probes and metrics')
    .build();
  config.components = { ...config.components, schemas: deliveryComponents() };
  return SwaggerModule.createDocument(app, config, { standardSchemaConverter: zodSchemaConverter });
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
