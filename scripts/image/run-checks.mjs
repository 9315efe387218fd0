// Runs the image as deploy/k8s runs it, on this machine's PostgreSQL and Redis (--network host): the
// migration Job's command on a fresh database, then an api and a worker container with their pods'
// security settings and the ConfigMap's environment. Checks the probes, the image's HEALTHCHECK,
// /metrics, a signed delivery processed into its table, and exit 0 on SIGTERM within the grace period.
import { createHmac, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { createDatabase, dropKeys, freePort, sleep, waitFor } from '../local-services.mjs';
import { containerEnv, loadManifests, podmanRunFlags, stopBudget, workload } from './manifests.mjs';
import { fail, podman, ulimitFlags } from './podman.mjs';

async function httpStatus(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, text: await res.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

const logsOf = (name) => {
  const r = podman(['logs', '--tail', '60', name], { allowFail: true });
  return `${r.stdout}${r.stderr}`.trim();
};

function isRunning(name) {
  return podman(['inspect', '--format', '{{.State.Running}}', name], { allowFail: true }).stdout.trim() === 'true';
}

async function waitForStatus(name, url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = { status: 0 };
  while (Date.now() < deadline) {
    last = await httpStatus(url);
    if (last.status === 200) return;
    if (!isRunning(name)) fail(`container ${name} exited before ${url} answered 200:\n${logsOf(name)}`);
    await sleep(250);
  }
  fail(`${url} answered ${last.status || 'nothing'} after ${timeoutMs / 1000} s (container ${name}):\n${logsOf(name)}`);
}

/** `podman run` arguments for a workload: its pod's flags, its environment, this machine's limits. */
function runArgs(name, w, env) {
  return [
    '--name',
    name,
    '--network',
    'host',
    ...ulimitFlags(),
    ...podmanRunFlags(w),
    ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
  ];
}

export async function checkRun(ref, { repo, pgAdminUrl, redisUrl, keep, log }) {
  const manifests = loadManifests(join(repo, 'deploy/k8s'));
  const id = randomBytes(3).toString('hex');
  const prefix = `image-test-${id}`;
  const secret = randomBytes(16).toString('hex');
  const database = await createDatabase(pgAdminUrl, { prefix: 'image_test' });
  // The Secret's keys (secret.example.yaml) with this machine's services; a fresh queue prefix and a
  // free port per container, as both share the host's network.
  const secrets = { DATABASE_URL: database.url, REDIS_URL: redisUrl, WEBHOOK_SECRET: secret };
  const names = [];
  const db = new pg.Client({ connectionString: database.url });
  const results = {};
  try {
    await db.connect();

    // 1. The migration Job.
    const job = workload(manifests, 'migrate');
    const migrateName = `iw-image-${id}-migrate`;
    names.push(migrateName);
    const t0 = Date.now();
    const m = podman(
      [
        'run',
        '--no-healthcheck',
        ...runArgs(migrateName, job, containerEnv(manifests, job.container, secrets)),
        ref,
        ...(job.container.command ?? []),
        ...(job.container.args ?? []),
      ],
      { allowFail: true, timeoutMs: 180_000 },
    );
    if (m.status !== 0) fail(`the migration Job's command exited ${m.status}:\n${`${m.stdout}${m.stderr}`.slice(-4000)}`);
    const applied = (await db.query('SELECT count(*)::int AS n FROM migrations')).rows[0].n;
    if (applied < 1) fail('the migration command exited 0 but applied no migration');
    results.migrate = { ms: Date.now() - t0, applied };
    log(
      `migrate (${job.kind} ${job.name}): ${applied} migrations applied to a fresh database in ${((Date.now() - t0) / 1000).toFixed(1)} s, exit 0`,
    );

    // 2. api and worker, as their Deployments run them.
    const roles = [];
    for (const component of ['api', 'worker']) {
      const w = workload(manifests, component);
      const port = await freePort();
      const env = { ...containerEnv(manifests, w.container, secrets), PORT: String(port), QUEUE_PREFIX: prefix };
      // The probes and metrics are on the management port when the ConfigMap sets one (a free one here:
      // both containers share the host's network).
      const managementPort = env.MANAGEMENT_PORT ? await freePort() : port;
      if (env.MANAGEMENT_PORT) env.MANAGEMENT_PORT = String(managementPort);
      const name = `iw-image-${id}-${component}`;
      names.push(name);
      podman(['run', '--detach', '--health-interval', 'disable', ...runArgs(name, w, env), ref]);
      roles.push({
        component,
        name,
        port,
        w,
        started: Date.now(),
        base: `http://127.0.0.1:${port}`,
        management: `http://127.0.0.1:${managementPort}`,
      });
    }
    for (const r of roles) {
      await waitForStatus(r.name, `${r.management}/health/live`, 90_000);
      const liveMs = Date.now() - r.started;
      await waitForStatus(r.name, `${r.management}/health/ready`, 60_000);
      const hc = podman(['healthcheck', 'run', r.name], { allowFail: true, timeoutMs: 30_000 });
      if (hc.status !== 0)
        fail(
          `podman healthcheck run ${r.name} (the image's HEALTHCHECK) exited ${hc.status}: ${`${hc.stdout}${hc.stderr}`.trim()}\n${logsOf(r.name)}`,
        );
      const metrics = await httpStatus(`${r.management}/metrics`);
      if (metrics.status !== 200 || !/^# TYPE app_ready gauge$/m.test(metrics.text))
        fail(`${r.component}: GET /metrics answered ${metrics.status} without the app_ready gauge`);
      results[r.component] = { liveMs, readyMs: Date.now() - r.started };
      log(
        `${r.component}: /health/live 200 after ${(liveMs / 1000).toFixed(1)} s, /health/ready 200, HEALTHCHECK healthy, /metrics served (${podmanRunFlags(r.w).join(' ')})`,
      );
    }

    // 3. A signed delivery through the api, processed by the worker.
    const api = roles.find((r) => r.component === 'api');
    const sessionId = `image-test-${id}`;
    const body = JSON.stringify({
      event: 'session.feedback_submitted',
      session_id: sessionId,
      feedback: { rating: 4, comment: 'image test' },
    });
    const res = await fetch(`${api.base}/webhooks/ai-interview`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-webhook-signature': createHmac('sha256', secret).update(body).digest('hex') },
      body,
    });
    if (res.status < 200 || res.status > 299) fail(`the signed delivery was answered ${res.status}: ${await res.text()}`);
    const row = await waitFor(
      async () => (await db.query('SELECT rating FROM feedback WHERE session_id = $1', [sessionId])).rows[0],
      30_000,
      250,
    );
    if (!row) fail(`the delivery was accepted (${res.status}) but no feedback row appeared within 30 s:\n${logsOf(roles[1].name)}`);
    if (Number(row.rating) !== 4) fail(`the feedback row holds rating ${row.rating}, expected 4`);
    log(`delivery: signed session.feedback_submitted answered ${res.status}; the worker stored it in feedback`);

    // 4. SIGTERM, as the kubelet sends it after the preStop hook: exit 0 before the grace period ends.
    await Promise.all(
      roles.map(async (r) => {
        const { grace, preStopSeconds, processSeconds } = stopBudget(r.w);
        const t = Date.now();
        podman(['stop', '--time', String(processSeconds), r.name], { allowFail: true, timeoutMs: (processSeconds + 30) * 1000 });
        const ms = Date.now() - t;
        const code = podman(['inspect', '--format', '{{.State.ExitCode}}', r.name]).stdout.trim();
        if (code !== '0')
          fail(
            `${r.component}: podman stop (SIGTERM) ended it with exit ${code} after ${ms} ms (${processSeconds} s left after the ${preStopSeconds} s preStop):\n${logsOf(r.name)}`,
          );
        const denied = /^.*\b(EACCES|EROFS|read-only file system|permission denied)\b.*$/im.exec(logsOf(r.name));
        if (denied) fail(`${r.component} tried to write where the pod does not let it: ${denied[0].slice(0, 300)}`);
        results[r.component].stopMs = ms;
        log(`${r.component}: SIGTERM -> exit 0 in ${(ms / 1000).toFixed(1)} s (grace ${grace} s, preStop ${preStopSeconds} s)`);
      }),
    );
    return results;
  } finally {
    if (!keep) for (const name of names) podman(['rm', '--force', '--time', '0', name], { allowFail: true });
    await db.end().catch(() => undefined);
    if (!keep) await database.drop().catch(() => undefined);
    if (!keep) await dropKeys(redisUrl, `${prefix}:*`);
    else log(`kept: containers ${names.join(', ')}, database ${database.name}, queue prefix ${prefix}`);
  }
}
