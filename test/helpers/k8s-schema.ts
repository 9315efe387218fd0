// Kubernetes objects checked against the API schemas of `kubernetes-models`, both ways the library
// ships them: its runtime validators (types, required fields, formats such as quantities) and its
// TypeScript interfaces. The validators let a field the API does not have through (a misspelt
// `imagePulPolicy` is dropped by the API server without a word), so the TypeScript compiler holds
// each object, as an object literal, to the interface of its kind: an unknown field is then an
// excess-property error (the compiler may name only the first one of an object: fix it, and the next
// shows). test/deploy-schemas.e2e-spec.ts proves both catch what they should.
import { join } from 'node:path';
import ts from 'typescript';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string };
  [field: string]: unknown;
}

/** Packages of the custom resources deploy/ uses (KEDA's ScaledObject), by API group. */
const CRD_PACKAGES: Record<string, string> = { 'keda.sh': '@kubernetes-models/keda' };

/** `apps/v1` + `Deployment` -> the module of its model in kubernetes-models (or the custom resource's package). */
const modelPath = (o: K8sObject) => `${CRD_PACKAGES[o.apiVersion.split('/')[0]] ?? 'kubernetes-models'}/${o.apiVersion}/${o.kind}`;
export const describeObject = (o: K8sObject) => `${o.kind} ${o.metadata?.name ?? '(no name)'}`;

/** The model's validation errors for one object (empty when it is valid). */
export async function schemaErrors(o: K8sObject): Promise<string[]> {
  let Model: new (data: unknown) => { validate(): void };
  try {
    Model = (await import(modelPath(o)))[o.kind];
  } catch {
    return [`no schema for ${o.apiVersion} ${o.kind} in kubernetes-models`];
  }
  try {
    new Model(o).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

/** For each object, the TypeScript errors of assigning it to its kind's interface (unknown and mistyped fields). */
export function typeErrors(objects: K8sObject[], root = process.cwd()): string[][] {
  // A module in the repository, so that kubernetes-models resolves from its node_modules.
  const file = join(root, 'test', '__k8s_objects__.ts');
  const parts = objects.map((o, i) => `import type { I${o.kind} as T${i} } from '${modelPath(o)}';`);
  // The lines each object's statement spans, to tell which object an error belongs to.
  const spans: [number, number][] = [];
  let line = parts.length;
  objects.forEach((o, i) => {
    const statement = `export const o${i}: T${i} = ${JSON.stringify(o, null, 2)};`;
    const count = statement.split('\n').length;
    spans.push([line, line + count - 1]);
    parts.push(statement);
    line += count;
  });
  const source = parts.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const errors: string[][] = objects.map(() => []);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n').at(-1)!;
    if (d.file?.fileName !== file || d.start === undefined) {
      errors.forEach((e) => e.push(message));
      continue;
    }
    const at = d.file.getLineAndCharacterOfPosition(d.start).line;
    const index = spans.findIndex(([from, to]) => at >= from && at <= to);
    if (index < 0) errors.forEach((e) => e.push(message));
    else errors[index].push(`line ${at - spans[index][0] + 1}: ${message}`);
  }
  return errors;
}
