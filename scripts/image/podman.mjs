// podman as the image scripts call it: one place for the flags this kind of machine needs.
//
// Measured on the CI machine (Debian 12, podman 4.3, cgroup v1/v2 hybrid, no systemd):
//  - crun 1.8 refuses to start containers on hybrid cgroups ("cgroups in hybrid mode not
//    supported"): containers run with runc and the cgroupfs manager (global flags);
//  - podman asks for RLIMIT_NOFILE 1048576, above this machine's hard limit (20000), so the runtime
//    fails with "error setting rlimits": containers and build steps get limits within it.
// IMAGE_PODMAN_RUNTIME, IMAGE_PODMAN_CGROUP_MANAGER and IMAGE_PODMAN_STORAGE_DRIVER override them
// (empty: podman's own default; the storage driver is the store's own unless set, e.g. vfs where
// overlay mounts are not allowed).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export class ImageCheckFailed extends Error {}
export const fail = (message) => {
  throw new ImageCheckFailed(message);
};

function setting(name, fallback) {
  const v = process.env[name];
  return v === undefined ? fallback : v;
}

export function globalFlags() {
  const flags = [];
  const runtime = setting('IMAGE_PODMAN_RUNTIME', existsSync('/usr/sbin/runc') || existsSync('/usr/bin/runc') ? 'runc' : '');
  const cgroups = setting('IMAGE_PODMAN_CGROUP_MANAGER', 'cgroupfs');
  const storage = setting('IMAGE_PODMAN_STORAGE_DRIVER', '');
  if (runtime) flags.push('--runtime', runtime);
  if (cgroups) flags.push('--cgroup-manager', cgroups);
  if (storage) flags.push('--storage-driver', storage);
  return flags;
}

/**
 * `--ulimit` flags within this machine's hard limits: all the open files it allows; processes capped
 * at 4096 (podman cannot give more than its own limit, which follows kernel.pid_max here; the service
 * is one process of a dozen threads).
 */
export function ulimitFlags() {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = (label) => Number(new RegExp(`^${label}\\s+\\S+\\s+(\\d+)`, 'm').exec(limits)?.[1] ?? NaN);
  const flags = [];
  const nofile = hard('Max open files');
  const nproc = Math.min(hard('Max processes'), 4096);
  if (nofile > 0) flags.push('--ulimit', `nofile=${nofile}:${nofile}`);
  if (nproc > 0) flags.push('--ulimit', `nproc=${nproc}:${nproc}`);
  return flags;
}

/** Runs podman to the end; throws with its output unless `allowFail`. */
export function podman(args, { input, allowFail = false, timeoutMs = 600_000 } = {}) {
  const r = spawnSync('podman', [...globalFlags(), ...args], { input, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 });
  if (r.error?.code === 'ENOENT') fail('podman is not installed (Debian: apt-get install podman runc debootstrap, as .ci/run does)');
  const out = { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (r.error) out.stderr += `\n${r.error.message}`;
  if (!allowFail && out.status !== 0)
    fail(`podman ${args.join(' ')} exited ${out.status}:\n${`${out.stdout}\n${out.stderr}`.trim().slice(-4000)}`);
  return out;
}

/** Runs podman with its output streamed to this process (long builds), resolving with the exit status. */
export function podmanStreamed(args, { onLine } = {}) {
  return new Promise((resolve) => {
    const child = spawn('podman', [...globalFlags(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const take = (chunk) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-8000);
      for (const line of text.split('\n')) if (line) onLine?.(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (status) => resolve({ status, tail }));
  });
}

export const imageExists = (ref) => podman(['image', 'exists', ref], { allowFail: true }).status === 0;

export function inspectImage(ref) {
  return JSON.parse(podman(['image', 'inspect', ref]).stdout)[0];
}

/** A short name as Docker resolves it (`node:24` is `docker.io/library/node:24`). */
export function fullyQualified(ref) {
  const [first, ...rest] = ref.split('/');
  if (rest.length && (first.includes('.') || first.includes(':') || first === 'localhost')) return ref;
  return `docker.io/${rest.length ? ref : `library/${ref}`}`;
}

export const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`;
