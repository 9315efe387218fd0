import type { SchemaObject, StandardSchemaConverter } from '@nestjs/swagger';
import { z } from 'zod';

export interface OpenApiSchema {
  schema: SchemaObject;
  /** The schemas it names with `.meta({ id })`, by id: they go to `components.schemas`. */
  components: Record<string, SchemaObject>;
}

const COMPONENTS = '#/components/schemas/';

/**
 * The OpenAPI 3.0 schema of a zod schema: the documentation is generated from the schema that
 * validates (or types) the data, so the two cannot drift apart. `io: 'input'` is what a client
 * sends (defaults make a field optional), `output` what the service answers, where a Date is the
 * ISO 8601 string JSON.stringify makes of it. Noise is left out: zod's long regexes for email, uuid
 * and date-time where a `format` says the same, and the safe-integer bounds of `.int()`.
 */
export function openApiSchema(schema: z.ZodType, io: 'input' | 'output'): OpenApiSchema {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io,
    unrepresentable: ({ zodSchema }) =>
      io === 'output' && zodSchema instanceof z.ZodDate ? { type: 'string', format: 'date-time' } : 'throw',
  }) as Record<string, unknown>;
  const { $schema: _, definitions = {}, ...root } = tidy(json) as Record<string, unknown> & { definitions?: Record<string, SchemaObject> };
  return { schema: root, components: definitions };
}

function tidy(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(tidy);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'pattern' && 'format' in node) continue;
    if ((key === 'minimum' || key === 'maximum') && Math.abs(value as number) === Number.MAX_SAFE_INTEGER) continue;
    out[key] = key === '$ref' && typeof value === 'string' ? value.replace('#/definitions/', COMPONENTS) : tidy(value);
  }
  return out;
}

/**
 * For `SwaggerModule.createDocument`: the zod schemas given to decorators (`@Query({ schema })`,
 * `@ApiResponse({ standardSchema })`) are documented with openApiSchema; a schema with an id
 * becomes a `$ref` to its component.
 */
export const zodSchemaConverter: StandardSchemaConverter = (schema, { schemaType }) =>
  schema instanceof z.ZodType ? openApiSchema(schema, schemaType) : undefined;
