import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CONSOLE_PATH, DASHBOARD_PATH, LOGIN_PATH, LOGOUT_PATH } from '../src/admin/admin-session.js';
import { DOCS_PATH } from '../src/docs/api-docs.js';
import { openApiSchema } from '../src/docs/zod-openapi.js';
import { deliveryFields, validateDelivery } from '../src/events/delivery.js';
import { WEBHOOK_PATH } from '../src/webhooks/webhook.constants.js';
import { createTestDatabase, MAIN_JS, queuePrefix, TEST_REDIS_URL, TEST_SECRET, TestDatabase } from './helpers/service.js';

type Schema = Record<string, any>;

interface Report {
  served: string[];
  status: number;
  document: Schema;
  events: Array<{ name: string; description: string; example: Record<string, unknown>; validatedBy: Schema }>;
}

describe('OpenAPI document: generated from the code it describes', () => {
  let db: TestDatabase;
  let report: Report;
  let doc: Schema;

  beforeAll(async () => {
    if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run "npm run build" first (npm test does)`);
    db = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'api-docs-'));
    try {
      const env = {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        DATABASE_URL: db.url,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: queuePrefix('docs'),
        WEBHOOK_SECRET: TEST_SECRET,
        ADMIN_TOKEN: 'docs-test-admin-token-0123456789',
        DOCS_TEST_DEV_ROUTES: '1',
      };
      await promisify(execFile)(process.execPath, ['test/helpers/api-document.mjs', join(dir, 'report.json')], { env, timeout: 60_000 });
      report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(report.status).toBe(200);
    doc = report.document;
  });

  afterAll(async () => {
    await db?.drop();
  });

  const component = (ref: { $ref: string }) => doc.components.schemas[ref.$ref.replace('#/components/schemas/', '')] as Schema;

  it('lists every route the service serves, except the excluded dev routes and the pages for a browser', () => {
    const documented = Object.entries(doc.paths as Record<string, Schema>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(documented.filter((route) => !report.served.includes(route))).toEqual([]);
    // The queue dashboard (Bull Board), the events console, their login and logout, and Swagger UI.
    const page = (route: string) =>
      [DASHBOARD_PATH, CONSOLE_PATH, LOGIN_PATH, LOGOUT_PATH, `/${DOCS_PATH}/`].some((p) => route.split(' ')[1].startsWith(p));
    const undocumented = report.served.filter((route) => !documented.includes(route) && !page(route));
    expect(undocumented.sort()).toEqual(['GET /dev/sessions/:sessionId', 'GET /dev/transcripts/:sessionId']);
    expect(documented).toEqual(expect.arrayContaining([`POST ${WEBHOOK_PATH}`, 'GET /admin/events', 'GET /health/ready', 'GET /metrics']));
  });

  it('documents each known event with the schema that validates it, and examples that pass that validation', () => {
    const body = doc.paths[WEBHOOK_PATH].post.requestBody.content['application/json'].schema as { oneOf: Array<{ $ref: string }> };
    const schemas = body.oneOf.map(component);
    expect(report.events.length).toBeGreaterThan(0);
    expect(schemas).toHaveLength(report.events.length + 2);
    for (const event of report.events) {
      const documented = schemas.find((s) => s.properties?.event?.enum?.[0] === event.name);
      expect(documented).toEqual({ ...event.validatedBy, description: event.description, example: event.example });
      expect(validateDelivery(event.example)).toMatchObject({ ok: true, value: { event: event.name } });
    }
    const [other, envelope] = schemas.slice(-2);
    expect(other).toEqual({
      ...openApiSchema(deliveryFields, 'input').schema,
      description: expect.any(String),
      example: expect.any(Object),
    });
    expect(validateDelivery(other.example)).toMatchObject({ ok: true, value: { event: other.example.event } });
    expect(envelope.required).toEqual(['type', 'data']);
    expect(validateDelivery(envelope.example)).toMatchObject({ ok: true, value: { event: envelope.example.type } });
  });

  it('documents the admin API with the zod schemas that validate its queries and type its answers', () => {
    const list = doc.paths['/admin/events'].get;
    expect(list.parameters.map((p: Schema) => [p.in, p.name, p.required])).toEqual([
      ['query', 'status', false],
      ['query', 'event', false],
      ['query', 'session_id', false],
      ['query', 'limit', false],
      ['query', 'cursor', false],
    ]);
    expect(list.parameters[3]).toMatchObject({
      description: 'Page size',
      schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    });
    expect(doc.paths['/admin/events/{id}'].get.parameters).toEqual([
      { in: 'path', name: 'id', required: true, schema: { type: 'string', format: 'uuid' } },
    ]);
    const summary = component(list.responses['200'].content['application/json'].schema.properties.items.items);
    expect(summary.properties.received_at).toEqual({ type: 'string', format: 'date-time' });
    expect(summary.properties.processed_at).toEqual({ type: 'string', format: 'date-time', nullable: true });
    expect(component(doc.paths['/admin/events/{id}'].get.responses['200'].content['application/json'].schema).required).toContain(
      'payload',
    );
  });
});
