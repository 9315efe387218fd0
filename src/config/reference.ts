import { z } from 'zod';
import { ENV_GROUPS, EnvDoc, envSchema, nodeVariables, otelVariables } from './env.schema.js';

/** Where the rendered reference is checked in, relative to the repository root. */
export const REFERENCE_PATH = 'docs/configuration.md';
export const REFERENCE_COMMAND = 'npm run docs:config';

export interface ReferenceEntry {
  name: string;
  group: EnvDoc['group'];
  /** Markdown. */
  default: string;
  accepts: string;
  description: string;
  /** Read by Node itself (NODE_OPTIONS) or a library (OTEL_*), so documented but not validated by the service. */
  node: boolean;
  /** Who reads it, when not the service. */
  readBy?: string;
}

type JsonProperty = Partial<EnvDoc> & { type?: string; enum?: unknown[]; minimum?: number; maximum?: number; minLength?: number };

const code = (v: unknown) => `\`${String(v)}\``;
const orList = (items: string[]) => (items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items.at(-1)}` : (items[0] ?? ''));

/** The values a variable takes, from the JSON Schema of what an operator writes (zod's `io: 'input'`). */
function accepts(name: string, p: JsonProperty): string {
  if (p.accepts) return p.accepts;
  if (p.enum) return orList(p.enum.map(code));
  if (p.type === 'integer') {
    const min = p.minimum !== undefined && p.minimum > Number.MIN_SAFE_INTEGER ? p.minimum : undefined;
    const max = p.maximum !== undefined && p.maximum < Number.MAX_SAFE_INTEGER ? p.maximum : undefined;
    if (min !== undefined && max !== undefined) return `integer ${min}–${max}`;
    if (min !== undefined) return `integer ≥ ${min}`;
    return max !== undefined ? `integer ≤ ${max}` : 'integer';
  }
  if (p.type === 'string') return p.minLength ? 'non-empty string' : 'string';
  throw new Error(`${name}: its schema does not say what it accepts; add \`accepts\` to its .meta()`);
}

/** What the service uses when the variable is unset: the schema's own default, or the documented rule. */
function defaultText(name: string, value: unknown, computed: string | undefined): string {
  const constant = value !== undefined && !(Array.isArray(value) && value.length === 0);
  if (constant && computed) throw new Error(`${name}: has a schema default and a computedDefault; keep one`);
  if (constant) return code(Array.isArray(value) ? value.join(',') : value);
  return computed ?? '(unset)';
}

/** Every documented variable, in the order of ENV_GROUPS and then of the schema. */
export function referenceEntries(
  schema: z.ZodObject = envSchema,
  external: Record<string, EnvDoc> = { ...nodeVariables, ...otelVariables },
): ReferenceEntry[] {
  const json = z.toJSONSchema(schema, { io: 'input' }) as { properties: Record<string, JsonProperty> };
  // What the service gets with nothing set: the defaults, exactly as parsing applies them.
  const defaults = schema.parse({});
  const entries: ReferenceEntry[] = Object.entries(json.properties).map(([name, p]) => {
    if (!p.group || !ENV_GROUPS.includes(p.group) || !p.description) {
      throw new Error(`${name}: document it with .meta({ group, description }) in src/config/env.schema.ts (group: one of ENV_GROUPS)`);
    }
    return {
      name,
      group: p.group,
      default: defaultText(name, defaults[name], p.computedDefault),
      accepts: accepts(name, p),
      description: p.description,
      node: false,
    };
  });
  for (const [name, d] of Object.entries(external)) {
    entries.push({
      name,
      group: d.group,
      default: d.computedDefault ?? '(unset)',
      accepts: d.accepts ?? 'string',
      description: d.description,
      node: true,
      readBy: d.readBy,
    });
  }
  // A stable sort: within a group, the schema's order.
  return entries.sort((a, b) => ENV_GROUPS.indexOf(a.group) - ENV_GROUPS.indexOf(b.group));
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const anchor = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');

/** docs/configuration.md, rendered from the schema. Pure: the same schema gives the same bytes. */
export function renderReference(entries: ReferenceEntry[] = referenceEntries()): string {
  const groups = ENV_GROUPS.filter((g) => entries.some((e) => e.group === g));
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated file: do not edit. Change src/config/env.schema.ts, then run the command below. -->',
    '',
    `Generated from the configuration schema (\`src/config/env.schema.ts\`) by \`${REFERENCE_COMMAND}\`; \`npm test\` fails while this file is stale.`,
    '',
    'Every setting is an environment variable. The service reads them at boot (a `.env` file in the working',
    'directory fills in those not already set), validates them, and refuses to start with one line naming',
    'the variable when one is missing or invalid. "Default" is what an unset variable means.',
    '',
    groups.map((g) => `[${g}](#${anchor(g)})`).join(' · '),
  ];
  for (const group of groups) {
    lines.push('', `## ${group}`, '', '| Variable | Default | Accepts | Meaning |', '|---|---|---|---|');
    for (const e of entries.filter((x) => x.group === group)) {
      const meaning = `${e.description.replace(/\.$/, '')}.${e.node ? ` ${e.readBy ?? 'Read by Node, not by the service'}.` : ''}`;
      lines.push(`| ${[code(e.name), e.default, e.accepts, meaning].map(cell).join(' | ')} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
