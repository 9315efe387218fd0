// The deployment files, checked without a Docker engine or a cluster: parses the Dockerfile (with
// scripts/dockerfile.mjs), docker-compose.yml and deploy/ with the `yaml` package and asserts the
// wiring against the code (the config schema, the declared routes, the build output). No services
// needed; no build needed. `npm run test:image` (run by .ci/run) builds the image with podman and
// runs it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ipaddr from 'ipaddr.js';
import YAML from 'yaml';
import { imageEnv as dockerfileEnv, stages as dockerfileStages } from '../scripts/dockerfile.mjs';
import { envSchema, loadConfig } from '../src/config/configuration.js';
import { shutdownBudgetMs } from '../src/health/lifecycle.service.js';
import { WEBHOOKS_QUEUE } from '../src/queue/queue.constants.js';

const root = process.cwd();
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const yaml = (p: string) => YAML.parse(read(p), { merge: true });
const yamlDocs = (p: string): any[] =>
  YAML.parseAllDocuments(read(p), { merge: true })
    .map((d) => d.toJS())
    .filter(Boolean);
const pkg = JSON.parse(read('package.json'));
const SCHEMA_KEYS = Object.keys(envSchema.shape);
// Variables a deployment may set that Node itself reads, not the app.
const NODE_VARS = ['NODE_OPTIONS'];
// The OpenTelemetry SDK reads its standard variables (OTEL_EXPORTER_OTLP_ENDPOINT, ...) itself.
const isOtelVar = (key: string) => key.startsWith('OTEL_');
// What a grace period keeps beyond the preStop sleep and the app's shutdown budget.
const GRACE_MARGIN_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// Dockerfile

const stages = dockerfileStages(read('Dockerfile'));
const runtime = stages.at(-1)!;
const runtimeOps = (op: string) => runtime.instructions.filter((i) => i.op === op).map((i) => i.args);
const imageEnv = dockerfileEnv(read('Dockerfile'));

// ---------------------------------------------------------------------------------------------
// Routes declared in src/: @Controller(prefix) + @Get(path), string literals or module constants

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(posix.join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')
        ? [posix.join(dir, e.name)]
        : [],
  );
}

function declaredGetRoutes(): Set<string> {
  const routes = new Set<string>();
  const files = sourceFiles('src').map((f) => read(f));
  const constants = new Map<string, string>();
  for (const text of files)
    for (const m of text.matchAll(/(?:export\s+)?const\s+(\w+)\s*=\s*['"`]([^'"`$]*)['"`]/g)) constants.set(m[1], m[2]);
  const value = (arg: string | undefined) => {
    const a = (arg ?? '').trim();
    if (a === '') return '';
    const lit = /^['"`]([^'"`]*)['"`]$/.exec(a);
    return lit ? lit[1] : constants.get(a);
  };
  for (const text of files) {
    if (!text.includes('@Controller(')) continue;
    const prefix = value(/@Controller\(([^)]*)\)/.exec(text)?.[1]) ?? '';
    for (const m of text.matchAll(/@Get\(([^)]*)\)/g)) {
      const p = value(m[1]);
      if (p !== undefined) routes.add(posix.join('/', prefix, p));
    }
  }
  return routes;
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml, interpolated as `docker compose up` does with nothing set in the shell

function interpolate(value: unknown, env: Record<string, string> = {}): string {
  return String(value).replace(/\$\$|\$\{([A-Za-z_]\w*)(?:(:?)([-?])([^}]*))?\}/g, (all, name, colon, kind, arg) => {
    if (all === '$$') return '$';
    const v = env[name];
    const unset = v === undefined || (colon === ':' && v === '');
    if (kind === '-') return unset ? arg : v;
    if (kind === '?' && unset) throw new Error(`compose variable ${name} must be set: ${arg}`);
    return v ?? '';
  });
}

const compose = yaml('docker-compose.yml');
const APP_SERVICES = ['api', 'worker', 'migrate'];

function composeEnv(service: string): Record<string, string> {
  let env = compose.services[service].environment ?? {};
  if (Array.isArray(env)) env = Object.fromEntries(env.map((e: string) => e.split(/=(.*)/s).slice(0, 2)));
  // The image's ENV comes first; the service's environment overrides it.
  return { ...imageEnv, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(v ?? '')])) };
}

function seconds(duration: string | number): number {
  if (typeof duration === 'number') return duration;
  let total = 0;
  for (const m of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms'];
  return total;
}

function volumeMounts(service: string): { source: string; target: string }[] {
  return (compose.services[service].volumes ?? []).map((v: any) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target };
    const [source, target] = v.split(':');
    return { source, target };
  });
}

/** The host path mounted at (or above) a container path, if any. */
function hostPathFor(service: string, containerPath: string): string | undefined {
  for (const { source, target } of volumeMounts(service)) {
    if (!source.startsWith('.')) continue;
    if (containerPath === target) return posix.normalize(source);
    if (containerPath.startsWith(target + '/')) return posix.join(source, containerPath.slice(target.length + 1));
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// deploy/k8s

const K8S = 'deploy/k8s';
const manifests: any[] = readdirSync(join(root, K8S))
  .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
  .flatMap((f) => yamlDocs(posix.join(K8S, f)).map((doc) => ({ ...doc, __file: f })));
const kinds = (kind: string) => manifests.filter((m) => m.kind === kind);
const byName = (kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata?.name === name);
const deployment = (component: string) =>
  kinds('Deployment').find((d) => d.spec.template.metadata.labels['app.kubernetes.io/component'] === component);
const job = kinds('Job')[0];
const podSpec = (workload: any) => workload.spec.template.spec;
const appContainer = (workload: any) => podSpec(workload).containers[0];

function k8sEnv(container: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, byName('ConfigMap', from.configMapRef.name)?.data);
    if (from.secretRef) {
      const secret = byName('Secret', from.secretRef.name);
      Object.assign(
        env,
        secret?.stringData,
        Object.fromEntries(Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString()])),
      );
    }
  }
  for (const e of container.env ?? []) env[e.name] = e.value ?? `<from ${Object.keys(e.valueFrom ?? {}).join()}>`;
  return env;
}

/** A named or numbered container port, as a number. */
function portNumber(container: any, port: string | number): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((p: any) => p.name === port)?.containerPort;
}

// ---------------------------------------------------------------------------------------------
// NetworkPolicy: what the policies of deploy/k8s let through, evaluated as the API defines it (a pod
// selected by a policy of a direction accepts only what one of their rules lists). Only the fields
// the policies use are understood; any other throws, so that a new field cannot pass unjudged.

/** Another party: a pod of the cluster (its namespace) or an address outside it. */
type Peer = { namespace: string } | { ip: string };

const podLabels = (component: string) =>
  (component === 'migrate' ? job : deployment(component)).spec.template.metadata.labels as Record<string, string>;
const selects = (selector: any, labels: Record<string, string>) =>
  Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v) && !selector?.matchExpressions;

function peerMatches(rulePeer: any, peer: Peer): boolean {
  const { namespaceSelector, ipBlock, ...rest } = rulePeer;
  if (Object.keys(rest).length) throw new Error(`peer fields not understood: ${Object.keys(rest).join()}`);
  if (ipBlock) {
    if (namespaceSelector || !('ip' in peer)) return false;
    const ip = ipaddr.process(peer.ip);
    const inside = (cidr: string) => {
      const range = ipaddr.parseCIDR(cidr);
      return ip.kind() === range[0].kind() && ip.match(range);
    };
    return inside(ipBlock.cidr) && !(ipBlock.except ?? []).some(inside);
  }
  if (!('namespace' in peer)) return false;
  return selects(namespaceSelector, { 'kubernetes.io/metadata.name': peer.namespace });
}

function allows(direction: 'Ingress' | 'Egress', component: string, peer: Peer, port: number, protocol = 'TCP'): boolean {
  const labels = podLabels(component);
  const container = appContainer(component === 'migrate' ? job : deployment(component));
  const policies = kinds('NetworkPolicy').filter((np) => selects(np.spec.podSelector, labels) && np.spec.policyTypes.includes(direction));
  if (!policies.length) return true;
  return policies.some((np) =>
    (np.spec[direction.toLowerCase()] ?? []).some((rule: any) => {
      const { ports, from, to, ...rest } = rule;
      if (Object.keys(rest).length) throw new Error(`rule fields not understood: ${Object.keys(rest).join()}`);
      const peers = direction === 'Ingress' ? from : to;
      const portOk =
        !ports?.length ||
        ports.some((p: any) => {
          if (p.endPort !== undefined) throw new Error('endPort not understood');
          // A named port is the selected pod's on the way in; the far end's on the way out (none here).
          if (typeof p.port === 'string' && direction === 'Egress') throw new Error(`named egress port ${p.port}`);
          const n = portNumber(container, p.port);
          if (n === undefined) throw new Error(`${np.metadata.name}: port ${p.port} is none of the container's ports`);
          return n === port && (p.protocol ?? 'TCP') === protocol;
        });
      return portOk && (!peers?.length || peers.some((rp: any) => peerMatches(rp, peer)));
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The config schema: which variables production cannot start without

const SAMPLE: Record<string, string> = {
  DATABASE_URL: 'postgres://u@db:5432/app',
  REDIS_URL: 'redis://redis:6379',
  WEBHOOK_SECRET: 'x'.repeat(32),
};

function requiredInProduction(): string[] {
  const env: Record<string, string> = { NODE_ENV: 'production' };
  const found: string[] = [];
  for (let i = 0; i <= SCHEMA_KEYS.length; i++) {
    try {
      loadConfig(env);
      return found;
    } catch (err) {
      // loadConfig names the missing variable in its one-line message.
      const key = SCHEMA_KEYS.find((k) => !(k in env) && new RegExp(`\\b${k}\\b`).test((err as Error).message));
      if (!key) throw err;
      found.push(key);
      env[key] = SAMPLE[key] ?? 'x';
    }
  }
  return found;
}

const workloads: { name: string; env: Record<string, string>; role?: string }[] = [
  ...APP_SERVICES.map((s) => ({ name: `compose ${s}`, env: composeEnv(s), role: s === 'migrate' ? undefined : s })),
  { name: 'k8s api Deployment', env: k8sEnv(appContainer(deployment('api'))), role: 'api' },
  { name: 'k8s worker Deployment', env: k8sEnv(appContainer(deployment('worker'))), role: 'worker' },
  { name: 'k8s migrate Job', env: k8sEnv(appContainer(job)) },
];

// =============================================================================================

describe('deployment files (parsed, no Docker engine)', () => {
  const livePath = '/health/live';
  const readyPath = '/health/ready';

  it('declares the probe routes in src/ that the deployment files point at', () => {
    const routes = declaredGetRoutes();
    expect(routes).toContain(livePath);
    expect(routes).toContain(readyPath);
    // Served by PrometheusModule.register({ path }) rather than a controller.
    expect(read('src/metrics/metrics.module.ts')).toMatch(/path:\s*['"]\/metrics['"]/);
  });

  describe('Dockerfile', () => {
    it('builds on a pinned Node 24 image and runs on the slim Debian release that image is built on', () => {
      expect(stages.map((s) => s.name)).toEqual(['deps', 'build', 'prod-deps', 'runtime']);
      const external = [...new Set(stages.filter((s) => !stages.some((o) => o.name === s.from)).map((s) => s.from))];
      const node = external.filter((image) => image.startsWith('node:'));
      expect(node).toHaveLength(1);
      const [, release] = /^node:24\.\d+\.\d+-([a-z]+)-slim$/.exec(node[0]) ?? [];
      expect(release).toBeDefined();
      expect(external).toEqual([node[0], `debian:${release}-slim`]);
      expect(runtime.from).toBe(`debian:${release}-slim`);
      // The runtime gets the Node binary of the pinned image, from the stage that installed the
      // production dependencies with that image's npm.
      expect(stages.find((s) => s.name === 'prod-deps')!.from).toBe(node[0]);
      expect(runtimeOps('COPY')).toContain('--from=prod-deps /usr/local/bin/node /usr/local/bin/node');
    });

    it('runs as a non-root user, in production mode, with an exec-form CMD that starts the built entry point', () => {
      expect(runtimeOps('USER')).toEqual(['node']);
      expect(imageEnv.NODE_ENV).toBe('production');
      expect(JSON.parse(runtimeOps('CMD')[0])).toEqual(['node', 'dist/main.js']);
      // nest build compiles src/ into dist/ (tsconfig rootDir/outDir): src/main.ts becomes dist/main.js.
      const tsconfig = JSON.parse(read('tsconfig.json'));
      expect([tsconfig.compilerOptions.rootDir, tsconfig.compilerOptions.outDir]).toEqual(['./src', './dist']);
      expect(existsSync(join(root, 'src/main.ts'))).toBe(true);
    });

    it('health-checks the liveness route with Node itself on the image PORT, which it exposes', () => {
      const hc = runtimeOps('HEALTHCHECK')[0];
      const cmd = JSON.parse(/CMD\s+(\[.*\])$/s.exec(hc)![1]);
      expect(cmd[0]).toBe('node');
      expect(cmd.join(' ')).toContain(livePath);
      expect(cmd.join(' ')).toContain('process.env.PORT');
      expect(runtimeOps('EXPOSE')).toEqual([imageEnv.PORT]);
      expect(imageEnv.PORT).toBe(String(envSchema.shape.PORT.parse(undefined)));
    });

    it('.dockerignore keeps dependencies, build output, tests, local data and secrets out of the context', () => {
      const rules = read('.dockerignore')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      expect(rules).toEqual(expect.arrayContaining(['node_modules', 'dist', 'test', 'data', '.git', '.env', '.env.*']));
      expect(rules.some((r) => r.startsWith('!'))).toBe(false);
      // What the Dockerfile copies from the context must stay in it (the image test's build fails otherwise).
      for (const src of ['package.json', 'package-lock.json', 'tsconfig.json', 'nest-cli.json', 'src']) expect(rules).not.toContain(src);
    });
  });

  describe('environment', () => {
    const required = requiredInProduction();

    it('finds the variables production requires in the config schema', () => {
      expect(required).toEqual(expect.arrayContaining(['WEBHOOK_SECRET', 'DATABASE_URL']));
    });

    it.each(workloads.map((w) => [w.name, w] as const))('%s sets every required variable and passes the config schema', (_name, w) => {
      for (const key of required) expect([key, (w.env[key] ?? '').length > 0]).toEqual([key, true]);
      const unknown = Object.keys(w.env).filter((k) => !SCHEMA_KEYS.includes(k) && !NODE_VARS.includes(k) && !isOtelVar(k));
      expect(unknown).toEqual([]);
      const config = loadConfig(w.env);
      expect(config.app.production).toBe(true);
      expect(config.database.embedded).toBe(false);
      // The stack runs Redis, so the queue must be on it (not the PostgreSQL fallback).
      expect(config.queue.backend).toBe('redis');
      if (w.role) expect(config.app.role).toBe(w.role);
    });

    it('keeps real secrets out of the Secret template and compose defaults', () => {
      const secret = kinds('Secret');
      expect(secret).toHaveLength(1);
      for (const [k, v] of Object.entries(secret[0].stringData as Record<string, string>))
        expect([k, v]).toEqual([k, expect.stringContaining('REPLACE_ME')]);
      expect(yaml(`${K8S}/kustomization.yaml`).resources).not.toContain(secret[0].__file);
    });
  });

  describe('docker-compose.yml', () => {
    const svc = (name: string) => compose.services[name];

    it('runs api and worker from the one image, with their roles, after the migration and healthy dependencies', () => {
      for (const name of APP_SERVICES) {
        expect(svc(name).image).toBe(`interview-webhooks:${pkg.version}`);
        expect(svc(name).build).toEqual({ context: '.', target: 'runtime' });
      }
      for (const name of ['api', 'worker']) {
        expect(svc(name).environment.APP_ROLE).toBe(name);
        expect(svc(name).depends_on).toEqual({
          migrate: { condition: 'service_completed_successfully' },
          postgres: { condition: 'service_healthy' },
          redis: { condition: 'service_healthy' },
        });
        // The image's HEALTHCHECK (liveness) applies: no override.
        expect(svc(name).healthcheck).toBeUndefined();
      }
      expect(svc('migrate').depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
      expect(svc('migrate').restart).toBe('no');
    });

    it('migrates with the TypeORM CLI from production dependencies, the same command as the k8s Job', () => {
      const command = svc('migrate').command;
      expect(command).toEqual(['node', 'node_modules/typeorm/cli.js', 'migration:run', '-d', 'dist/database/data-source.js']);
      expect(appContainer(job).command).toEqual(command);
      expect(Object.keys(pkg.dependencies)).toContain('typeorm');
      expect(existsSync(join(root, 'node_modules/typeorm/cli.js'))).toBe(true);
      expect(read('src/database/data-source.ts')).toMatch(/export default new \w*DataSource\(/);
    });

    it('publishes the api on PORT and nothing else (metrics and probes stay inside on MANAGEMENT_PORT), and gives each role its whole shutdown budget to stop, with a margin', () => {
      for (const name of ['api', 'worker']) {
        const env = composeEnv(name);
        const targets = (svc(name).ports ?? []).map((p: string) => p.split(':').at(-1));
        expect(targets).toEqual(name === 'api' ? [env.PORT] : []);
        expect(Number(env.MANAGEMENT_PORT)).toBeGreaterThan(0);
        const budgetMs = shutdownBudgetMs(loadConfig(env).app.shutdownTimeoutMs);
        expect(seconds(svc(name).stop_grace_period) * 1000).toBeGreaterThanOrEqual(budgetMs + GRACE_MARGIN_MS);
      }
      const hostPorts = Object.values(compose.services).flatMap((s: any) => (s.ports ?? []).map((p: string) => p.split(':')[0]));
      expect(new Set(hostPorts).size).toBe(hostPorts.length);
    });

    it('pins every image to a version', () => {
      for (const [name, s] of Object.entries<any>(compose.services)) {
        const tag = /^[^:@]+:([^:@]+)$/.exec(s.image)?.[1];
        expect([name, tag && tag !== 'latest' && /\d/.test(tag)]).toEqual([name, true]);
      }
    });

    it('keeps PostgreSQL and Redis data on volumes, with health checks; Redis with AOF and noeviction', () => {
      expect(volumeMounts('postgres').map((v) => v.target)).toContain('/var/lib/postgresql/data');
      expect(svc('postgres').healthcheck.test).toEqual(expect.arrayContaining(['pg_isready']));
      const cmd: string[] = svc('redis').command;
      expect(cmd[cmd.indexOf('--appendonly') + 1]).toBe('yes');
      expect(cmd[cmd.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
      expect(volumeMounts('redis').map((v) => v.target)).toContain('/data');
      expect(svc('redis').healthcheck.test).toEqual(expect.arrayContaining(['redis-cli', 'ping']));
      // The URLs the app gets point at these services.
      const env = composeEnv('api');
      expect(new URL(env.DATABASE_URL).host).toBe('postgres:5432');
      expect(new URL(env.DATABASE_URL).pathname).toBe(`/${svc('postgres').environment.POSTGRES_DB}`);
      expect(new URL(env.REDIS_URL).host).toBe('redis:6379');
    });

    const promConfigPath = 'deploy/prometheus/prometheus.yml';

    it('mounts the Prometheus config and every rule file it loads, and scrapes api and worker on PORT', () => {
      const configTarget = '/etc/prometheus/prometheus.yml';
      expect(svc('prometheus').command).toContain(`--config.file=${configTarget}`);
      expect(hostPathFor('prometheus', configTarget)).toBe(promConfigPath);
      const prom = yaml(promConfigPath);
      const ruleFiles: string[] = prom.rule_files ?? [];
      expect(ruleFiles.length).toBeGreaterThan(0);
      for (const rf of ruleFiles) {
        const inContainer = posix.resolve(posix.dirname(configTarget), rf);
        const host = hostPathFor('prometheus', inContainer);
        expect([rf, host !== undefined && existsSync(join(root, host))]).toEqual([rf, true]);
      }
      const targets = (prom.scrape_configs ?? []).flatMap((s: any) => (s.static_configs ?? []).flatMap((c: any) => c.targets));
      expect(targets).toEqual(
        expect.arrayContaining([`api:${composeEnv('api').MANAGEMENT_PORT}`, `worker:${composeEnv('worker').MANAGEMENT_PORT}`]),
      );
    });

    it('provisions Grafana with the Prometheus datasource and the dashboard, and sets the login', () => {
      const provisioning = hostPathFor('grafana', '/etc/grafana/provisioning');
      expect(provisioning).toBe('deploy/grafana/provisioning');
      const files = (dir: string) => readdirSync(join(root, provisioning!, dir)).filter((f) => /\.ya?ml$/.test(f));
      const datasources = files('datasources').flatMap((f) => yaml(posix.join(provisioning!, 'datasources', f)).datasources ?? []);
      expect(datasources).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' })]));
      const providers = files('dashboards').flatMap((f) => yaml(posix.join(provisioning!, 'dashboards', f)).providers ?? []);
      expect(providers.length).toBeGreaterThan(0);
      for (const p of providers) {
        const host = hostPathFor('grafana', p.options.path);
        expect([p.options.path, host]).toEqual([p.options.path, expect.any(String)]);
        expect(readdirSync(join(root, host!)).filter((f) => f.endsWith('.json')).length).toBeGreaterThan(0);
      }
      expect(svc('grafana').environment.GF_SECURITY_ADMIN_USER).toBe('admin');
      expect(interpolate(svc('grafana').environment.GF_SECURITY_ADMIN_PASSWORD)).toBe('admin');
      expect(svc('grafana').depends_on).toEqual({ prometheus: { condition: 'service_healthy' } });
    });

    describe('the tracing profile', () => {
      const collectorPath = 'deploy/otel/collector.yaml';
      const collector = yaml(collectorPath);
      const inProfile = Object.entries<any>(compose.services)
        .filter(([, s]) => (s.profiles ?? []).includes('tracing'))
        .map(([name]) => name);
      const port = (endpoint: string) => new URL(endpoint.includes('://') ? endpoint : `tcp://${endpoint}`).port;
      // The endpoint docs/operations.md and the compose file tell you to set with the profile.
      const documented = /OTEL_EXPORTER_OTLP_ENDPOINT=(\S+) docker compose --profile tracing up/.exec(read('docs/operations.md'))?.[1];

      it('adds the collector and Jaeger, and nothing else, only under the profile; Prometheus keeps exemplars', () => {
        expect(inProfile.sort()).toEqual(['jaeger', 'otel-collector']);
        for (const name of ['api', 'worker', 'migrate', 'postgres', 'redis', 'prometheus', 'grafana'])
          expect(svc(name).profiles).toBeUndefined();
        expect(svc('otel-collector').depends_on).toEqual({ jaeger: { condition: 'service_started' } });
        expect(svc('prometheus').command).toContain('--enable-feature=exemplar-storage');
        expect(svc('jaeger').ports).toEqual(['16686:16686']);
      });

      it('leaves tracing off by default: the apps get an empty OTLP endpoint unless it is set', () => {
        for (const name of APP_SERVICES) {
          expect(svc(name).environment.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('${OTEL_EXPORTER_OTLP_ENDPOINT:-}');
          expect(composeEnv(name).OTEL_EXPORTER_OTLP_ENDPOINT).toBe('');
        }
        expect(documented).toBeDefined();
        expect(read('docker-compose.yml')).toContain(`OTEL_EXPORTER_OTLP_ENDPOINT=${documented} docker compose --profile tracing up`);
      });

      it('mounts a collector config whose pipeline parts are defined and used, fed on the documented endpoint and feeding Jaeger', () => {
        const target = '/etc/otelcol-contrib/config.yaml';
        expect(svc('otel-collector').command).toEqual([`--config=${target}`]);
        expect(hostPathFor('otel-collector', target)).toBe(collectorPath);
        const pipelines = Object.values<any>(collector.service.pipelines);
        expect(Object.keys(collector.service.pipelines)).toEqual(['traces']);
        for (const kind of ['receivers', 'processors', 'exporters'] as const) {
          const used = new Set(pipelines.flatMap((p) => p[kind] ?? []));
          expect([kind, [...used].filter((c) => !(c in (collector[kind] ?? {})))]).toEqual([kind, []]);
          expect([kind, Object.keys(collector[kind] ?? {}).filter((c) => !used.has(c))]).toEqual([kind, []]);
        }
        expect(collector.service.extensions.filter((e: string) => !(e in collector.extensions))).toEqual([]);
        // memory_limiter first, as the collector's docs ask.
        expect(collector.service.pipelines.traces.processors[0]).toBe('memory_limiter');
        // The apps' endpoint (OTLP over HTTP, the SDK's default protocol) reaches the collector's HTTP receiver.
        const endpoint = new URL(documented!);
        expect(endpoint.protocol).toBe('http:');
        expect(endpoint.hostname).toBe('otel-collector');
        expect(endpoint.port).toBe(port(collector.receivers.otlp.protocols.http.endpoint));
        expect(svc('otel-collector').ports).toEqual([`${endpoint.port}:${endpoint.port}`]);
        // The exporter reaches Jaeger's OTLP/gRPC receiver (4317 in Jaeger v2's default configuration).
        const exporters = Object.values<any>(collector.exporters);
        expect(exporters).toHaveLength(1);
        const [host, grpcPort] = exporters[0].endpoint.split(':');
        expect(inProfile).toContain(host);
        expect(grpcPort).toBe('4317');
        expect(svc(host).image).toMatch(/^jaegertracing\/jaeger:2\./);
      });

      it("points Grafana's trace datasource at Jaeger's UI port", () => {
        const datasources = yaml('deploy/grafana/provisioning/datasources/prometheus.yml').datasources;
        const jaeger = datasources.find((d: any) => d.type === 'jaeger');
        const url = new URL(jaeger.url);
        expect(inProfile).toContain(url.hostname);
        expect(svc(url.hostname).ports.map((p: string) => p.split(':').at(-1))).toContain(url.port);
      });
    });
  });

  describe('deploy/k8s', () => {
    const configPort = Number(byName('ConfigMap', 'interview-webhooks-config').data.PORT);

    it('lists in kustomization.yaml files that exist, pinning the app image to the package version', () => {
      const k = yaml(`${K8S}/kustomization.yaml`);
      for (const r of k.resources) expect([r, existsSync(join(root, K8S, r))]).toEqual([r, true]);
      expect(k.images).toEqual([{ name: 'interview-webhooks', newTag: pkg.version }]);
      for (const kind of ['ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']) {
        const files = new Set(kinds(kind).map((m) => m.__file));
        expect([kind, [...files].every((f) => k.resources.includes(f))]).toEqual([kind, true]);
      }
    });

    it('pins every container image to a version', () => {
      for (const w of [...kinds('Deployment'), ...kinds('Job')]) {
        for (const c of podSpec(w).containers) expect(c.image).toBe(`interview-webhooks:${pkg.version}`);
      }
    });

    it.each(['api', 'worker'])(
      '%s Deployment probes the real routes and is scraped on the management port (MANAGEMENT_PORT)',
      (component) => {
        const d = deployment(component);
        const c = appContainer(d);
        const { port, managementPort } = loadConfig(k8sEnv(c)).app;
        expect(port).toBe(configPort);
        expect(managementPort).toBeDefined();
        expect(c.ports.map((p: any) => [p.name, p.containerPort])).toEqual([
          ['http', configPort],
          ['management', managementPort],
        ]);
        expect(c.livenessProbe.httpGet.path).toBe(livePath);
        expect(c.readinessProbe.httpGet.path).toBe(readyPath);
        expect(c.startupProbe.httpGet.path).toBe(livePath);
        for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe])
          expect(portNumber(c, probe.httpGet.port)).toBe(managementPort);
        expect(Number(d.spec.template.metadata.annotations['prometheus.io/port'])).toBe(managementPort);
        expect(d.spec.template.metadata.annotations['prometheus.io/path']).toBe('/metrics');
      },
    );

    it.each(['api', 'worker'])(
      "%s Deployment's grace period covers its preStop sleep and the shutdown budget with 5 s to spare; non-root, with resources",
      (component) => {
        const d = deployment(component);
        const c = appContainer(d);
        const budgetMs = shutdownBudgetMs(loadConfig(k8sEnv(c)).app.shutdownTimeoutMs);
        const preStop = c.lifecycle?.preStop?.exec?.command;
        const preStopMs = preStop?.[0] === 'sleep' ? Number(preStop[1]) * 1000 : 0;
        expect(component !== 'api' || preStopMs > 0).toBe(true);
        expect(podSpec(d).terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(preStopMs + budgetMs + GRACE_MARGIN_MS);
        expect(podSpec(d).securityContext.runAsNonRoot).toBe(true);
        expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
        expect(c.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
        expect(c.resources.limits.memory).toEqual(expect.any(String));
      },
    );

    // V8 sizes its heap from the node's memory, not the container's limit: without a cap a pod
    // under load can grow into an OOM kill.
    const heapCapBelowLimit = (c: any) => {
      const cap = Number(/--max-old-space-size=(\d+)/.exec(k8sEnv(c).NODE_OPTIONS ?? '')?.[1]);
      const [, amount, unit] = /^(\d+)(Mi|Gi)$/.exec(c.resources.limits.memory) ?? [];
      const limitMiB = Number(amount) * (unit === 'Gi' ? 1024 : 1);
      expect(cap).toBeGreaterThan(0);
      expect(cap).toBeLessThanOrEqual(0.8 * limitMiB);
    };

    it.each(['api', 'worker'])('%s Deployment caps the V8 heap below its memory limit, as the image does', (component) => {
      const c = appContainer(deployment(component));
      heapCapBelowLimit(c);
      expect(k8sEnv(c).NODE_OPTIONS).toBe(imageEnv.NODE_OPTIONS);
    });

    it("caps the migration Job's heap below its own memory limit", () => heapCapBelowLimit(appContainer(job)));

    it('routes the api Service to deliveries (PORT) and the worker Service to its metrics (MANAGEMENT_PORT)', () => {
      const services = kinds('Service');
      expect(services.map((s) => s.spec.selector['app.kubernetes.io/component']).sort()).toEqual(['api', 'worker']);
      for (const s of services) {
        const d = kinds('Deployment').find((dep) =>
          Object.entries(s.spec.selector).every(([k, v]) => dep.spec.template.metadata.labels[k] === v),
        );
        expect(d).toBeDefined();
        const { port, managementPort } = loadConfig(k8sEnv(appContainer(d))).app;
        const expected = s.spec.selector['app.kubernetes.io/component'] === 'api' ? port : managementPort;
        for (const p of s.spec.ports) expect(portNumber(appContainer(d), p.targetPort)).toBe(expected);
      }
    });

    const pdb = (component: string) =>
      kinds('PodDisruptionBudget').find((p) => p.spec.selector.matchLabels['app.kubernetes.io/component'] === component);
    const hpa = (component: string) =>
      kinds('HorizontalPodAutoscaler').find((h) => h.metadata.labels['app.kubernetes.io/component'] === component);

    it('keeps a pod of each role through voluntary disruptions and autoscales each role from above that floor', () => {
      expect(kinds('HorizontalPodAutoscaler')).toHaveLength(2);
      for (const component of ['api', 'worker']) {
        const d = deployment(component);
        expect(pdb(component)).toBeDefined();
        for (const [k, v] of Object.entries(pdb(component).spec.selector.matchLabels)) expect(d.spec.template.metadata.labels[k]).toBe(v);
        // The autoscaler owns the count; one in the manifest would reset it at every kubectl apply.
        expect(d.spec.replicas).toBeUndefined();
        const h = hpa(component);
        expect(h.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name });
        expect(h.spec.minReplicas).toBeGreaterThanOrEqual(pdb(component).spec.minAvailable + 1);
        expect(h.spec.maxReplicas).toBeGreaterThan(h.spec.minReplicas);
      }
    });

    describe('worker autoscaling on the queue backlog', () => {
      const adapterRules = yaml(`${K8S}/prometheus-adapter.example.yml`).rules.external;
      const scaledObject = yamlDocs('deploy/k8s-keda/scaledobject.yaml')[0];
      const worker = hpa('worker');
      const external = worker.spec.metrics[0].external;

      it('reads the waiting jobs of the service queue through the adapter rule that serves the metric', () => {
        expect(worker.spec.metrics.map((m: any) => m.type)).toEqual(['External']);
        const rule = adapterRules.find((r: any) => r.name.as === external.metric.name);
        expect(rule).toBeDefined();
        expect(rule.seriesQuery).toMatch(/^webhook_queue_jobs\{.*state="waiting"/);
        expect(rule.metricsQuery).toContain('state="waiting"');
        // Each pod reports the whole queue: a sum would grow with the replica count.
        expect(rule.metricsQuery).toMatch(/^max\b/);
        expect(rule.resources.overrides.namespace).toEqual({ resource: 'namespace' });
        expect(external.metric.selector.matchLabels).toEqual({ queue: WEBHOOKS_QUEUE });
        expect(external.target.type).toBe('AverageValue');
      });

      it('scales up at once and down one pod per grace period at most, so drains do not pile up', () => {
        const { scaleUp, scaleDown } = worker.spec.behavior;
        expect(scaleUp.stabilizationWindowSeconds).toBe(0);
        const grace = podSpec(deployment('worker')).terminationGracePeriodSeconds;
        expect(scaleDown.selectPolicy).toBe('Min');
        expect(scaleDown.policies.length).toBeGreaterThan(0);
        for (const p of scaleDown.policies) expect([p.type, p.value, p.periodSeconds >= grace]).toEqual(['Pods', 1, true]);
        expect(scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
      });

      it('gives the KEDA overlay the same target, bounds and pace as the HPA, on the same query', () => {
        expect(scaledObject.spec.scaleTargetRef).toEqual(worker.spec.scaleTargetRef);
        expect([scaledObject.spec.minReplicaCount, scaledObject.spec.maxReplicaCount]).toEqual([
          worker.spec.minReplicas,
          worker.spec.maxReplicas,
        ]);
        expect(scaledObject.spec.advanced.horizontalPodAutoscalerConfig.behavior).toEqual(worker.spec.behavior);
        const [trigger] = scaledObject.spec.triggers;
        expect([trigger.type, trigger.metricType, trigger.metadata.threshold]).toEqual([
          'prometheus',
          'AverageValue',
          external.target.averageValue,
        ]);
        expect(trigger.metadata.query).toBe(`max(webhook_queue_jobs{namespace="webhooks",queue="${WEBHOOKS_QUEUE}",state="waiting"})`);
      });
    });

    describe('NetworkPolicy', () => {
      const env = (component: string) => k8sEnv(appContainer(component === 'migrate' ? job : deployment(component)));
      const ports = (component: string) => loadConfig(env(component)).app;
      const urlPort = (url: string, fallback: number) => Number(new URL(url).port || fallback);
      const anywhere: Peer[] = [{ ip: '203.0.113.7' }, { namespace: 'ingress-nginx' }, { namespace: 'default' }];

      it('lists its file in kustomization.yaml and gives every role a policy of both directions', () => {
        expect(yaml(`${K8S}/kustomization.yaml`).resources).toContain('networkpolicy.yaml');
        for (const component of ['api', 'worker', 'migrate']) {
          const policies = kinds('NetworkPolicy').filter((np) => selects(np.spec.podSelector, podLabels(component)));
          expect([component, policies.flatMap((np) => np.spec.policyTypes).sort()]).toEqual([component, ['Egress', 'Ingress']]);
        }
      });

      it("lets deliveries reach the api's PORT from anywhere, and nothing reach the worker's", () => {
        for (const peer of anywhere) {
          expect(allows('Ingress', 'api', peer, ports('api').port)).toBe(true);
          expect(allows('Ingress', 'worker', peer, ports('worker').port)).toBe(false);
          expect(allows('Ingress', 'migrate', peer, ports('api').port)).toBe(false);
        }
      });

      it.each(['api', 'worker'])("opens the %s's MANAGEMENT_PORT to the monitoring namespace only", (component) => {
        const { managementPort } = ports(component);
        expect(allows('Ingress', component, { namespace: 'monitoring' }, managementPort!)).toBe(true);
        for (const peer of anywhere) expect(allows('Ingress', component, peer, managementPort!)).toBe(false);
        // Not the deliveries' port either, from there.
        expect(allows('Ingress', 'worker', { namespace: 'monitoring' }, ports('worker').port)).toBe(false);
      });

      it.each(['api', 'worker', 'migrate'])(
        '%s reaches DNS, and PostgreSQL (and Redis, Sentinel) in the cluster or on a private network, nowhere else',
        (component) => {
          const e = env(component);
          for (const protocol of ['UDP', 'TCP'])
            for (const peer of [{ namespace: 'kube-system' }, { ip: '169.254.20.10' }])
              expect(allows('Egress', component, peer, 53, protocol)).toBe(true);
          const db = urlPort(e.DATABASE_URL, 5432);
          const redis = [urlPort(e.REDIS_URL, 6379), 26379];
          const datastores = component === 'migrate' ? [db] : [db, ...redis];
          for (const port of datastores)
            for (const peer of [{ namespace: 'databases' }, { ip: '10.20.0.5' }, { ip: '172.16.4.4' }, { ip: '192.168.1.10' }])
              expect([port, peer, allows('Egress', component, peer, port)]).toEqual([port, peer, true]);
          if (component === 'migrate') for (const port of redis) expect(allows('Egress', component, { ip: '10.20.0.5' }, port)).toBe(false);
          expect(allows('Egress', component, { ip: '203.0.113.7' }, db)).toBe(false);
          expect(allows('Egress', component, { namespace: 'default' }, 80)).toBe(false);
        },
      );

      it('lets only the worker out on HTTPS (transcript hosts, Slack), to public addresses only', () => {
        for (const ip of ['203.0.113.7', '54.230.1.1', '2a00:1450:4001::1']) {
          expect([ip, allows('Egress', 'worker', { ip }, 443)]).toEqual([ip, true]);
          expect([ip, allows('Egress', 'api', { ip }, 443)]).toEqual([ip, false]);
          expect([ip, allows('Egress', 'worker', { ip }, 80)]).toEqual([ip, false]);
        }
        // The cloud metadata service, the private ranges, carrier-grade NAT, loopback, IPv6 private.
        for (const ip of ['169.254.169.254', '10.0.0.1', '172.20.0.1', '192.168.1.1', '100.64.0.1', '127.0.0.1', 'fd00::1', 'fe80::1'])
          expect([ip, allows('Egress', 'worker', { ip }, 443)]).toEqual([ip, false]);
        expect(allows('Egress', 'worker', { namespace: 'default' }, 443)).toBe(false);
      });
    });

    it('gives in-cluster Prometheus the job names the alerts and dashboard use, matching the pods', () => {
      const example = yaml(`${K8S}/prometheus-scrape.example.yml`).scrape_configs;
      const composeJobs = yaml('deploy/prometheus/prometheus.yml').scrape_configs.map((s: any) => s.job_name);
      expect(example.map((s: any) => s.job_name)).toEqual(composeJobs);
      for (const [i, component] of ['api', 'worker'].entries()) {
        const keep = example[i].relabel_configs.find((r: any) => r.action === 'keep');
        const d = deployment(component);
        const labels = d.spec.template.metadata.labels;
        const portName = 'management';
        expect(appContainer(d).ports.map((p: any) => p.name)).toContain(portName);
        const values = keep.source_labels.map((l: string) =>
          l === '__meta_kubernetes_pod_container_port_name'
            ? portName
            : labels[l.replace('__meta_kubernetes_pod_label_', '').replace(/_/g, '.').replace('app.kubernetes.io.', 'app.kubernetes.io/')],
        );
        expect(new RegExp(`^(?:${keep.regex})$`).test(values.join(';'))).toBe(true);
        expect(example[i].metrics_path).toBe('/metrics');
      }
    });

    it('runs the migration as a one-shot Job that does not restart in place', () => {
      expect(job.spec.template.spec.restartPolicy).toBe('Never');
      expect(job.spec.backoffLimit).toBeGreaterThan(0);
      expect(yaml(`${K8S}/kustomization.yaml`).resources).not.toContain(job.__file);
    });
  });
});
