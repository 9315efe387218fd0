import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { imageEnv } from '../../scripts/dockerfile.mjs';
import { envSchema, nodeVariables, otelVariables } from './env.schema.js';
import { REFERENCE_COMMAND, REFERENCE_PATH, referenceEntries, renderReference } from './reference.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const committed = read(REFERENCE_PATH);
/** The variables the committed reference has a table row for. */
const documented = new Set([...committed.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]));

describe('docs/configuration.md', () => {
  it('is what npm run docs:config renders from the schema', () => {
    const rendered = renderReference();
    if (committed !== rendered) {
      const [a, b] = [committed.split('\n'), rendered.split('\n')];
      const line = a.findIndex((l, i) => l !== b[i]);
      throw new Error(
        `${REFERENCE_PATH} is stale: run ${REFERENCE_COMMAND}\n  line ${line + 1} committed: ${a[line]}\n  line ${line + 1} rendered:  ${b[line]}`,
      );
    }
  });

  it('documents every variable the schema validates, NODE_OPTIONS, the OTEL_* variables, and nothing else', () => {
    const known = [...Object.keys(envSchema.shape), ...Object.keys(nodeVariables), ...Object.keys(otelVariables)];
    expect(known).toContain('NODE_ENV');
    expect([...documented].sort()).toEqual([...known].sort());
  });

  it("keeps NODE_OPTIONS' documented image default in step with the Dockerfile", () => {
    expect(nodeVariables.NODE_OPTIONS.computedDefault).toContain(`\`${imageEnv(read('Dockerfile')).NODE_OPTIONS}\``);
  });
});

describe('renderReference', () => {
  const documentedSchema = (shape: z.ZodRawShape) => referenceEntries(z.object(shape), {});

  it('takes each default from parsing the schema and what it accepts from its JSON Schema', () => {
    const entry = Object.fromEntries(referenceEntries().map((e) => [e.name, e]));
    expect(entry.PORT).toMatchObject({ group: 'HTTP', default: '`3000`', accepts: 'integer 0–65535' });
    expect(entry.APP_ROLE).toMatchObject({ default: '`all`', accepts: '`all`, `api` or `worker`' });
    // zod's JSON Schema drops this default (a string turned boolean); parsing does not.
    expect(entry.DATABASE_PREPARED_STATEMENTS.default).toBe('`true`');
    // An empty list and an unset value are unset: the documented rule stands in.
    expect(entry.WEBHOOK_SECRET.default).toMatch(/^required in production/);
    expect(entry.REDIS_URL.default).toBe('(unset)');
    expect(entry.NODE_OPTIONS).toMatchObject({ group: 'Process', node: true });
  });

  it('refuses a variable without documentation, naming it', () => {
    expect(() => documentedSchema({ UNDOCUMENTED: z.string().optional() })).toThrow(
      /^UNDOCUMENTED: document it with \.meta\(\{ group, description \}\)/,
    );
  });

  it('refuses a group the reference has no section for', () => {
    expect(() => documentedSchema({ ODD: z.string().optional().meta({ group: 'Misc', description: 'Odd' }) })).toThrow(/^ODD: document it/);
  });

  it('refuses a schema default and a computed one on the same variable: the schema is the one source', () => {
    const both = z.string().default('x').meta({ group: 'Process', description: 'Both', computedDefault: 'y when z' });
    expect(() => documentedSchema({ BOTH: both })).toThrow(/^BOTH: has a schema default and a computedDefault/);
  });

  it('escapes table separators in cells', () => {
    const md = renderReference(documentedSchema({ PIPE: z.string().optional().meta({ group: 'Admin', description: 'a | b' }) }));
    expect(md).toContain('| `PIPE` | (unset) | string | a \\| b. |');
  });
});

describe('variables set by deployment files or read through process.env', () => {
  const names: { where: string; name: string }[] = [];
  const add = (where: string, keys: Iterable<string>) => names.push(...[...keys].map((name) => ({ where, name })));

  add('Dockerfile ENV', Object.keys(imageEnv(read('Dockerfile'))));
  add('Dockerfile process.env', processEnvNames(read('Dockerfile')));

  const compose = YAML.parse(read('docker-compose.yml'), { merge: true });
  for (const [service, s] of Object.entries<any>(compose.services)) {
    // The app's own services run its image; postgres, redis, prometheus and grafana are not ours.
    if (!String(s.image).startsWith('interview-webhooks:')) continue;
    const env = Array.isArray(s.environment) ? s.environment.map((e: string) => e.split('=')[0]) : Object.keys(s.environment ?? {});
    add(`docker-compose.yml ${service}`, env);
  }

  const k8s = 'deploy/k8s';
  for (const file of readdirSync(new URL(`${k8s}/`, root)).filter((f) => /\.ya?ml$/.test(f))) {
    for (const doc of YAML.parseAllDocuments(read(posix.join(k8s, file))).map((d) => d.toJS())) {
      const where = `${k8s}/${file} ${doc?.kind}`;
      if (doc?.kind === 'ConfigMap') add(where, Object.keys(doc.data ?? {}));
      if (doc?.kind === 'Secret') add(where, [...Object.keys(doc.stringData ?? {}), ...Object.keys(doc.data ?? {})]);
      for (const c of doc?.spec?.template?.spec?.containers ?? [])
        add(
          where,
          (c.env ?? []).map((e: { name: string }) => e.name),
        );
    }
  }

  for (const file of sourceFiles('src')) add(file, processEnvNames(read(file)));

  it('finds the variables it checks', () => {
    expect(names.map((n) => n.name)).toEqual(
      expect.arrayContaining(['NODE_ENV', 'DATABASE_URL', 'WEBHOOK_SECRET', 'NODE_OPTIONS', 'INBOX_RETENTION_DAYS']),
    );
  });

  // The OpenTelemetry SDK's standard variables are read by the SDK, and documented with tracing.
  const operations = read('docs/operations.md');
  const documentedWithTracing = (name: string) => name.startsWith('OTEL_') && operations.includes(`\`${name}\``);

  it('are all documented in docs/configuration.md (OTEL_* in docs/operations.md, Tracing)', () => {
    expect(names.filter((n) => !documented.has(n.name) && !documentedWithTracing(n.name))).toEqual([]);
  });
});

function processEnvNames(text: string): string[] {
  return [...text.matchAll(/process\.env\.([A-Za-z_]\w*)|process\.env\[['"]([A-Za-z_]\w*)['"]\]/g)].map((m) => m[1] ?? m[2]);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(new URL(`${dir}/`, root), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(posix.join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')
        ? [posix.join(dir, e.name)]
        : [],
  );
}
