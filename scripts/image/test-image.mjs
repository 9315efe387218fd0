#!/usr/bin/env node
// `npm run test:image` (.ci/run runs it): builds the repository's Dockerfile with podman, then checks
// the image and runs it as deploy/k8s runs it. Steps, each timed:
//   1. base images: reused, pulled, or made as local stand-ins (scripts/image/base-image.mjs);
//   2. podman build --format docker (keeps the HEALTHCHECK) of the Dockerfile as it is;
//   3. contents: no development package, no TypeScript source, a non-root user, the size (goal);
//   4. run: the migration Job's command on a fresh database, api and worker containers with their
//      pods' security settings and the ConfigMap's environment, probes, HEALTHCHECK, /metrics, a
//      signed delivery processed by the worker, SIGTERM -> exit 0 within the grace period.
//
//   node scripts/image/test-image.mjs [--tag NAME] [--skip-build] [--no-cache] [--rebuild-base]
//                                     [--max-size-mb 350] [--keep]
//
// Env: TEST_PG_ADMIN_URL, TEST_REDIS_URL (as the e2e tests); IMAGE_PODMAN_* (scripts/image/podman.mjs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBaseImages } from './base-image.mjs';
import { checkContents } from './contents.mjs';
import { ImageCheckFailed, fail, globalFlags, mb, podman, podmanStreamed, ulimitFlags } from './podman.mjs';
import { checkRun } from './run-checks.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const started = Date.now();
const log = (msg) => console.log(`[image +${((Date.now() - started) / 1000).toFixed(0)}s] ${msg}`);

const { values: opts } = parseArgs({
  options: {
    tag: { type: 'string' },
    'skip-build': { type: 'boolean', default: false },
    'no-cache': { type: 'boolean', default: false },
    'rebuild-base': { type: 'boolean', default: false },
    'max-size-mb': { type: 'string', default: '350' },
    keep: { type: 'boolean', default: false },
  },
});

async function step(name, fn) {
  const t0 = Date.now();
  log(`== ${name}`);
  const result = await fn();
  const seconds = Math.round((Date.now() - t0) / 1000);
  log(`== ${name}: ok (${seconds} s)`);
  return { result, seconds };
}

async function build(ref) {
  const args = [
    'build',
    '--format',
    'docker',
    '--pull=never',
    '--layers',
    ...ulimitFlags(),
    '--tag',
    ref,
    '--file',
    join(ROOT, 'Dockerfile'),
  ];
  if (opts['no-cache']) args.push('--no-cache');
  let lastStep = '';
  const { status, tail } = await podmanStreamed([...args, ROOT], {
    onLine: (line) => {
      // Steps and npm's own summary lines; the full output is printed only when the build fails.
      if (/^\[\d+\/\d+\] STEP|^(added|removed) \d+ packages|^npm (warn|error)/.test(line)) {
        lastStep = line;
        log(`  ${line.slice(0, 160)}`);
      }
    },
  });
  if (status !== 0) fail(`podman build exited ${status} at "${lastStep}":\n${tail}`);
}

async function main() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const ref = opts.tag ?? `localhost/${pkg.name}:${pkg.version}`;
  const version = podman(['version', '--format', '{{.Client.Version}}']).stdout.trim();
  log(`podman ${version} (${globalFlags().join(' ') || 'default flags'}; ${ulimitFlags().join(' ')}), image ${ref}`);

  const timings = {};
  const base = await step('base images', () => ensureBaseImages({ force: opts['rebuild-base'], log }));
  timings.base = base.seconds;
  if (!opts['skip-build']) timings.build = (await step(`podman build ${ref}`, () => build(ref))).seconds;
  const contents = await step('image contents', () => checkContents(ref, { maxSizeMb: Number(opts['max-size-mb']) || 0, log }));
  timings.contents = contents.seconds;
  const run = await step('run as deploy/k8s runs it', () =>
    checkRun(ref, {
      repo: ROOT,
      pgAdminUrl: process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      keep: opts.keep,
      log,
    }),
  );
  timings.run = run.seconds;

  const r = run.result;
  const baseSummary = base.result.map((b) => `${b.ref} ${b.action}`).join('; ');
  console.log(
    [
      '',
      `image test passed: ${ref}, ${mb(contents.result.size)} (goal <= ${opts['max-size-mb']} MB), runs as ${contents.result.user} (uid ${contents.result.uid})`,
      `  base: ${baseSummary}`,
      `  times: base ${timings.base} s, build ${timings.build ?? 'skipped'} s, contents ${timings.contents} s, run ${timings.run} s; total ${Math.round((Date.now() - started) / 1000)} s`,
      `  api: live ${(r.api.liveMs / 1000).toFixed(1)} s, stopped in ${(r.api.stopMs / 1000).toFixed(1)} s; worker: live ${(r.worker.liveMs / 1000).toFixed(1)} s, stopped in ${(r.worker.stopMs / 1000).toFixed(1)} s; ${r.migrate.applied} migrations`,
    ].join('\n'),
  );
}

main().catch((err) => {
  console.error(err instanceof ImageCheckFailed ? `\nimage test FAILED: ${err.message}` : err);
  process.exit(1);
});
