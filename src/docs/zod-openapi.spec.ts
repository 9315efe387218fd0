import { z } from 'zod';
import { openApiSchema, zodSchemaConverter } from './zod-openapi.js';

// What the document relies on in zod's JSON Schema output: these fail when a zod upgrade changes it.
describe('openApiSchema (zod to OpenAPI 3.0)', () => {
  it('gives what a client sends for input: a default makes a field optional', () => {
    const query = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50).describe('Page size'), q: z.string().optional() });
    expect(openApiSchema(query, 'input')).toEqual({
      schema: {
        type: 'object',
        properties: { limit: { type: 'integer', minimum: 1, maximum: 200, default: 50, description: 'Page size' }, q: { type: 'string' } },
      },
      components: {},
    });
  });

  it('writes a Date of an answer as the ISO string JSON.stringify makes of it, and refuses one in a request', () => {
    const row = z.object({ at: z.date(), done_at: z.date().nullable() });
    expect(openApiSchema(row, 'output').schema.properties).toEqual({
      at: { type: 'string', format: 'date-time' },
      done_at: { type: 'string', format: 'date-time', nullable: true },
    });
    expect(() => openApiSchema(row, 'input')).toThrow(/Date cannot be represented/);
  });

  it('makes schemas with an id components, referred to by $ref', () => {
    const item = z.object({ id: z.uuid() }).meta({ id: 'ZodOpenApiSpecItem' });
    const page = z.object({ items: z.array(item), next: z.string().nullable() });
    expect(openApiSchema(page, 'output')).toEqual({
      schema: {
        type: 'object',
        properties: {
          items: { type: 'array', items: { $ref: '#/components/schemas/ZodOpenApiSpecItem' } },
          next: { type: 'string', nullable: true },
        },
        required: ['items', 'next'],
        additionalProperties: false,
      },
      components: {
        ZodOpenApiSpecItem: {
          type: 'object',
          properties: { id: { type: 'string', format: 'uuid' } },
          required: ['id'],
          additionalProperties: false,
        },
      },
    });
    expect(openApiSchema(item, 'output').schema).toEqual({ $ref: '#/components/schemas/ZodOpenApiSpecItem' });
  });

  it("leaves out zod's regexes where a format says the same, and the safe-integer bounds of int()", () => {
    const s = z.object({ email: z.email(), at: z.iso.datetime({ offset: true }), n: z.number().int(), name: z.string().regex(/^[a-z]+$/) });
    expect(openApiSchema(s, 'input').schema.properties).toEqual({
      email: { type: 'string', format: 'email' },
      at: { type: 'string', format: 'date-time' },
      n: { type: 'integer' },
      name: { type: 'string', pattern: '^[a-z]+$' },
    });
  });

  it('is the converter @nestjs/swagger calls for standard schemas, and passes on any other library', () => {
    expect(zodSchemaConverter(z.string(), { schemaType: 'input' })).toEqual({ schema: { type: 'string' }, components: {} });
    expect(
      zodSchemaConverter({ '~standard': { version: 1, vendor: 'other', validate: () => ({ value: 1 }) } }, { schemaType: 'input' }),
    ).toBeUndefined();
  });
});
