// What the runtime image holds, read from its mounted filesystem (`podman image mount`, as root): no
// development package, no TypeScript source, a non-root user, and where its size goes.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail, inspectImage, mb, podman } from './podman.mjs';

/** Mounts the image read-only for `fn(rootfs)`, and unmounts it afterwards. */
export async function withMountedImage(ref, fn) {
  const rootfs = podman(['image', 'mount', ref]).stdout.trim();
  try {
    return await fn(rootfs);
  } finally {
    podman(['image', 'unmount', ref], { allowFail: true });
  }
}

/** Packages of the lockfile that npm marks as development-only (`dev`, `devOptional`) and that are installed. */
export function installedDevPackages(appDir) {
  const lock = JSON.parse(readFileSync(join(appDir, 'package-lock.json'), 'utf8'));
  return Object.entries(lock.packages)
    .filter(([path, meta]) => path && (meta.dev || meta.devOptional) && existsSync(join(appDir, path, 'package.json')))
    .map(([path, meta]) => `${path.replace(/^.*node_modules\//, '')}${meta.devOptional ? ' (devOptional)' : ''}`);
}

/** TypeScript sources (`.ts`, `.mts`, `.cts`, declarations included) anywhere outside node_modules. */
export function typescriptSources(rootfs) {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && !['proc', 'sys', 'dev'].includes(path.slice(rootfs.length + 1))) walk(path);
      } else if (/\.[mc]?ts$/.test(entry.name)) found.push(path.slice(rootfs.length));
    }
  };
  walk(rootfs);
  return found;
}

const kib = (rootfs, ...paths) => {
  const out = execFileSync('du', ['-sk', '--apparent-size', ...paths.map((p) => join(rootfs, p))], { encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((l) => Number(l.split('\t')[0]) * 1024);
};

/** Where the bytes are: the image's big directories and its largest packages. */
export function sizeBreakdown(rootfs, appDir) {
  const parts = ['usr/local', 'usr/lib', 'usr/share', 'var', 'etc', `${appDir}/node_modules`, `${appDir}/dist`].filter((p) =>
    existsSync(join(rootfs, p)),
  );
  const sizes = kib(rootfs, ...parts);
  const modules = join(rootfs, appDir, 'node_modules');
  const packages = readdirSync(modules)
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => (n.startsWith('@') ? readdirSync(join(modules, n)).map((s) => `${n}/${s}`) : [n]));
  const pkgSizes = kib(rootfs, ...packages.map((p) => join(appDir, 'node_modules', p)));
  const largest = packages
    .map((p, i) => [p, pkgSizes[i]])
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10);
  return { parts: parts.map((p, i) => [`/${p}`, sizes[i]]), largest, packages: packages.length };
}

/** The checks on the image's configuration and files; returns the figures the summary prints. */
export async function checkContents(ref, { maxSizeMb, log }) {
  const image = inspectImage(ref);
  const config = image.Config ?? {};
  const size = image.Size;
  const appDir = (config.WorkingDir ?? '/app').replace(/^\/+/, '');
  const problems = [];
  const user = config.User ?? '';
  if (!(image.Healthcheck ?? config.Healthcheck)?.Test?.length)
    problems.push('the image has no HEALTHCHECK (build with --format docker to keep it)');
  if (!(config.Env ?? []).includes('NODE_ENV=production')) problems.push('NODE_ENV=production is not set');

  const found = await withMountedImage(ref, (rootfs) => {
    const passwd = readFileSync(join(rootfs, 'etc/passwd'), 'utf8');
    const name = user.split(':')[0];
    const uid = /^\d+$/.test(name)
      ? Number(name)
      : Number(
          passwd
            .split('\n')
            .find((l) => l.startsWith(`${name}:`))
            ?.split(':')[2],
        );
    const entries = readdirSync(join(rootfs, appDir)).sort();
    return {
      uid,
      entries,
      dev: installedDevPackages(join(rootfs, appDir)),
      ts: typescriptSources(rootfs),
      sizes: sizeBreakdown(rootfs, appDir),
    };
  });

  if (!user || !(found.uid > 0))
    problems.push(`the image runs as ${user || 'root (no USER)'}${user ? ` (uid ${found.uid})` : ''}, not as a non-root user`);
  const expected = ['dist', 'node_modules', 'package-lock.json', 'package.json'];
  if (found.entries.join() !== expected.join())
    problems.push(`/${appDir} holds ${found.entries.join(', ')}; expected only ${expected.join(', ')}`);
  if (found.dev.length) problems.push(`${found.dev.length} development packages in the image: ${found.dev.join(', ')}`);
  if (found.ts.length) problems.push(`${found.ts.length} TypeScript sources outside node_modules: ${found.ts.slice(0, 5).join(', ')}`);
  if (maxSizeMb && size > maxSizeMb * 1e6) problems.push(`the image is ${mb(size)}, over the ${maxSizeMb} MB goal`);

  log(
    `image ${ref}: ${mb(size)} (goal ${maxSizeMb ? `<= ${maxSizeMb} MB` : 'none'}), USER ${user} (uid ${found.uid}), ${found.sizes.packages} packages in /${appDir}/node_modules`,
  );
  log(`  where the bytes are: ${found.sizes.parts.map(([p, b]) => `${p} ${mb(b)}`).join(', ')}`);
  log(`  largest packages: ${found.sizes.largest.map(([p, b]) => `${p} ${mb(b)}`).join(', ')}`);
  if (problems.length) fail(`the image's contents:\n  - ${problems.join('\n  - ')}`);
  log('  no development packages, no TypeScript sources outside node_modules, non-root user, HEALTHCHECK kept');
  return { size, uid: found.uid, user };
}
