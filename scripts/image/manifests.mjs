// deploy/k8s as the image test reads it: each workload's environment and the podman flags that give
// a container what its pod spec gives it (user, read-only root, capabilities, tmpfs volumes,
// resources, grace period).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { fail } from './podman.mjs';

export function loadManifests(dir) {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
    .flatMap((f) => YAML.parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()))
    .filter((doc) => doc?.kind);
}

/** The Deployment or Job of an `app.kubernetes.io/component`, with its pod spec and first container. */
export function workload(manifests, component) {
  const w = manifests.find(
    (m) => ['Deployment', 'Job'].includes(m.kind) && m.spec.template.metadata?.labels?.['app.kubernetes.io/component'] === component,
  );
  if (!w) fail(`deploy/k8s has no Deployment or Job for component ${component}`);
  const pod = w.spec.template.spec;
  return { kind: w.kind, name: w.metadata.name, pod, container: pod.containers[0] };
}

/** The container's environment: its ConfigMaps (envFrom), then `secrets` for its Secrets, then `env`. */
export function containerEnv(manifests, container, secrets) {
  const env = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === from.configMapRef.name);
      if (!cm) fail(`ConfigMap ${from.configMapRef.name} is not in deploy/k8s`);
      Object.assign(env, cm.data);
    }
    if (from.secretRef) Object.assign(env, secrets);
  }
  for (const e of container.env ?? []) {
    if (e.value === undefined) fail(`env ${e.name} uses valueFrom, which the image test does not resolve`);
    env[e.name] = e.value;
  }
  return env;
}

function mebibytes(quantity) {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(String(quantity));
  if (!m) fail(`cannot read the memory quantity ${quantity}`);
  const factor = { Ki: 1 / 1024, Mi: 1, Gi: 1024, k: 1e3 / 2 ** 20, M: 1e6 / 2 ** 20, G: 1e9 / 2 ** 20 }[m[2]] ?? 1 / 2 ** 20;
  return Math.ceil(Number(m[1]) * factor);
}

const cpus = (quantity) => (String(quantity).endsWith('m') ? Number(String(quantity).slice(0, -1)) / 1000 : Number(quantity));

/** podman run flags for what the pod spec asks of the container. */
export function podmanRunFlags({ pod, container }) {
  const flags = [];
  const sc = { ...pod.securityContext, ...container.securityContext };
  if (sc.runAsUser !== undefined) flags.push('--user', `${sc.runAsUser}:${sc.runAsGroup ?? sc.runAsUser}`);
  if (sc.readOnlyRootFilesystem) flags.push('--read-only', '--read-only-tmpfs=false');
  for (const cap of sc.capabilities?.drop ?? []) flags.push('--cap-drop', cap);
  for (const cap of sc.capabilities?.add ?? []) flags.push('--cap-add', cap);
  if (sc.allowPrivilegeEscalation === false) flags.push('--security-opt', 'no-new-privileges');
  for (const mount of container.volumeMounts ?? []) {
    const volume = (pod.volumes ?? []).find((v) => v.name === mount.name);
    if (!volume?.emptyDir) fail(`volume ${mount.name} is not an emptyDir; the image test only mounts those (as tmpfs)`);
    const size = volume.emptyDir.sizeLimit ? `,size=${mebibytes(volume.emptyDir.sizeLimit)}m` : '';
    flags.push('--tmpfs', `${mount.mountPath}:rw,mode=1777${size}`);
  }
  const limits = container.resources?.limits ?? {};
  if (limits.memory) flags.push('--memory', `${mebibytes(limits.memory)}m`);
  if (limits.cpu) flags.push('--cpus', String(cpus(limits.cpu)));
  return flags;
}

/** The pod's grace period, the container's preStop sleep, and what is left for the process after it. */
export function stopBudget({ pod, container }) {
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  const preStop = container.lifecycle?.preStop;
  const preStopSeconds = preStop?.sleep?.seconds ?? (preStop?.exec?.command?.[0] === 'sleep' ? Number(preStop.exec.command[1]) : 0);
  return { grace, preStopSeconds, processSeconds: grace - preStopSeconds };
}
