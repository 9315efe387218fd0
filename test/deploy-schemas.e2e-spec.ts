// The deployment files checked by the tools and schemas that read them:
//  - deploy/k8s and its KEDA overlay deploy/k8s-keda: `kubectl kustomize` renders them, and every
//    object they render, with the migration Job and the Secret template applied on their own,
//    validates against the Kubernetes API schemas of kubernetes-models (and KEDA's ScaledObject
//    against @kubernetes-models/keda; test/helpers/k8s-schema.ts: no unknown or mistyped field);
//  - docker-compose.yml: valid under the Compose Specification's JSON schema, vendored as
//    test/schemas/compose-spec.json from compose-spec/compose-go v2.13.0 (schema/compose-spec.json,
//    Apache-2.0; draft 2020-12; it knows the top-level `name`). Replace the file to follow the spec.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { describeObject, K8sObject, schemaErrors, typeErrors } from './helpers/k8s-schema.js';

const root = process.cwd();
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const docs = (text: string): K8sObject[] =>
  YAML.parseAllDocuments(text)
    .map((d) => d.toJS())
    .filter(Boolean);

function kustomize(dir: string): string {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (r.error) throw new Error(`kubectl could not run (${r.error.message}): these checks render deploy/k8s with it`);
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${r.stderr}`);
  return r.stdout;
}

const named = (objects: K8sObject[]) => objects.map(describeObject).sort();

describe('deploy/k8s against the Kubernetes API schemas', () => {
  const rendered = docs(kustomize(join(root, 'deploy/k8s')));
  // The overlay that scales the workers with KEDA instead of the base's worker HPA.
  const keda = docs(kustomize(join(root, 'deploy/k8s-keda')));
  // Applied with kubectl apply -f, not through the kustomization (docs/deployment.md, Kubernetes).
  const standalone = ['deploy/k8s/migrate-job.yaml', 'deploy/k8s/secret.example.yaml'].flatMap((f) => docs(read(f)));
  const objects = [...rendered, ...standalone, ...keda.filter((o) => o.kind === 'ScaledObject')];

  it('renders every kind the service needs with kubectl kustomize', () => {
    expect(rendered.map((o) => o.kind).sort()).toEqual(
      [
        'ConfigMap',
        'Deployment',
        'Deployment',
        'HorizontalPodAutoscaler',
        'HorizontalPodAutoscaler',
        'NetworkPolicy',
        'NetworkPolicy',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'PodDisruptionBudget',
        'Service',
        'Service',
      ].sort(),
    );
    expect(standalone.map((o) => o.kind)).toEqual(['Job', 'Secret']);
  });

  it('renders the KEDA overlay as the base with a ScaledObject in place of the worker HPA (never two autoscalers on one Deployment)', () => {
    expect(named(keda)).toEqual(
      named([
        ...rendered.filter((o) => !(o.kind === 'HorizontalPodAutoscaler' && o.metadata?.name === 'interview-webhooks-worker')),
        { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'interview-webhooks-worker' } },
      ]),
    );
    // The base objects come through unchanged, labels included.
    for (const o of keda.filter((k) => k.kind !== 'ScaledObject'))
      expect(o).toEqual(rendered.find((r) => describeObject(r) === describeObject(o)));
    const scaled = keda.filter((o) => o.kind === 'ScaledObject');
    const targets = [...keda.filter((o) => o.kind === 'HorizontalPodAutoscaler'), ...scaled].map((o: any) => o.spec.scaleTargetRef.name);
    expect(new Set(targets).size).toBe(targets.length);
    expect((scaled[0].metadata as any).labels['app.kubernetes.io/part-of']).toBe('interview-webhooks');
  });

  it('has no object the schemas reject (types, required fields, formats)', async () => {
    const problems: [string, string[]][] = [];
    // One at a time: Jest's ESM loader fails concurrent first imports of one module.
    for (const o of objects) problems.push([describeObject(o), await schemaErrors(o)]);
    expect(problems.filter(([, errors]) => errors.length)).toEqual([]);
  });

  it('has no field the API does not know', () => {
    const errors = typeErrors(objects);
    expect(objects.map((o, i) => [describeObject(o), errors[i]]).filter(([, e]) => e.length)).toEqual([]);
  });

  it('rejects a misspelt field, a mistyped one and a malformed quantity, in a ScaledObject too (the checks can fail)', async () => {
    const job = standalone[0];
    const broken = structuredClone(job) as any;
    const container = broken.spec.template.spec.containers[0];
    container.imagePulPolicy = container.imagePullPolicy;
    broken.spec.backoffLimit = '3';
    container.resources.limits.memory = '256 megabytes';
    expect((await schemaErrors(broken)).join()).toMatch(/backoffLimit must be integer/);
    expect((await schemaErrors(broken)).join()).toMatch(/memory must match format "quantity"/);
    expect(await schemaErrors(job)).toEqual([]);
    const scaled = structuredClone(objects.find((o) => o.kind === 'ScaledObject')!) as any;
    scaled.spec.minReplicaCount = '2';
    expect((await schemaErrors(scaled)).join()).toMatch(/minReplicaCount must be integer/);
    scaled.spec.minReplicaCount = 2;
    scaled.spec.maxReplicaCounts = 10;
    const [errors, scaledErrors] = typeErrors([broken, scaled]);
    expect(errors.join('\n')).toMatch(/imagePulPolicy/);
    expect(scaledErrors.join('\n')).toMatch(/maxReplicaCounts/);
  });

  it('gives every container CPU and memory requests and limits, the migration Job too', () => {
    const containers = objects
      .filter((o) => ['Deployment', 'Job'].includes(o.kind))
      .flatMap((o: any) => o.spec.template.spec.containers.map((c: any) => [`${describeObject(o)}/${c.name}`, c.resources] as const));
    expect(containers.length).toBe(3);
    for (const [name, resources] of containers) {
      expect([name, Object.keys(resources?.requests ?? {}).sort(), Object.keys(resources?.limits ?? {}).sort()]).toEqual([
        name,
        ['cpu', 'memory'],
        ['cpu', 'memory'],
      ]);
    }
  });
});

describe('docker-compose.yml against the Compose Specification', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(read('test/schemas/compose-spec.json')));
  const compose = YAML.parse(read('docker-compose.yml'), { merge: true });

  it('is valid', () => {
    validate(compose);
    expect(validate.errors ?? []).toEqual([]);
  });

  it('rejects an unknown service field and a mistyped one (the check can fail)', () => {
    const broken = structuredClone(compose);
    broken.services.api.stop_grace_periods = '40s';
    broken.services.worker.depends_on = 'migrate';
    expect(validate(broken)).toBe(false);
    const paths = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`).join('\n');
    expect(paths).toMatch(/\/services\/api .*stop_grace_periods/);
    expect(paths).toMatch(/\/services\/worker\/depends_on/);
  });
});
