// node test/helpers/api-document.mjs OUT.json, with the service's environment (after `npm run build`).
//
// Boots the built app (dist/) in this process, as main.ts does but without listening, and writes what
// test/api-docs.e2e-spec.ts checks: the routes Fastify serves, the OpenAPI document, and each known
// event with the JSON Schema of the schema that validates it. A process of its own because Jest cannot
// load the app: CommonJS packages in it (@willsoto/nestjs-prometheus) require Nest's ES modules.
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { createApp } from '../../dist/app.setup.js';
import { loadConfig } from '../../dist/config/configuration.js';
import { DOCS_PATH } from '../../dist/docs/api-docs.js';
import { openApiSchema } from '../../dist/docs/zod-openapi.js';
import { deliverySchemaFor } from '../../dist/events/delivery.js';
import { knownEvents } from '../../dist/events/event-definition.js';

const config = loadConfig(process.env);
// The embedded mode's dev routes, served here against the given PostgreSQL (no PGlite is started).
if (process.env.DOCS_TEST_DEV_ROUTES === '1') config.database.embedded = true;
const app = await createApp(config);
const served = [];
// Nest registers the controllers' routes on init (the document's own routes were registered by createApp).
app
  .getHttpAdapter()
  .getInstance()
  .addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') served.push(`${method} ${route.url}`);
  });
try {
  await app.init();
  const res = await app.inject({ method: 'GET', url: `/${DOCS_PATH}-json` });
  const events = knownEvents().map((d) => ({
    name: d.name,
    description: d.description,
    example: d.example,
    validatedBy: openApiSchema(deliverySchemaFor(d.name).extend({ event: z.literal(d.name) }), 'input').schema,
  }));
  writeFileSync(process.argv[2], JSON.stringify({ served, status: res.statusCode, document: res.json(), events }));
} finally {
  await app.close();
}
