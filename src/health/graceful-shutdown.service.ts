import { WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DiscoveryService } from '@nestjs/core';
import type { Job, Worker } from 'bullmq';
import { AppConfig } from '../config/configuration.js';

// Beyond the worker bound, the rest of the shutdown (HTTP close, pools) gets this long before the
// process gives up on a clean exit.
const HARD_EXIT_GRACE_MS = 10_000;

/** The longest a shutdown can take, SIGTERM to exit, for a SHUTDOWN_TIMEOUT_MS: what a grace period must cover. */
export function shutdownBudgetMs(timeoutMs: number): number {
  return timeoutMs + HARD_EXIT_GRACE_MS;
}

/**
 * Stops the workers before anything they use closes. Nest runs every beforeApplicationShutdown
 * hook before closing the HTTP server and before any onApplicationShutdown hook (where
 * @nestjs/bullmq closes workers without a bound and TypeORM closes the pool), so jobs finish here
 * while the database and Redis are still open.
 *
 * Each worker stops taking jobs and gets SHUTDOWN_TIMEOUT_MS to finish its active ones; then it is
 * closed without waiting. A job cut off that way keeps its lock until it expires, and BullMQ's
 * stalled-job check hands it to another worker (or this one after a restart): it is not lost.
 */
@Injectable()
export class GracefulShutdownService implements OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(GracefulShutdownService.name);
  private readonly timeoutMs: number;
  /** Jobs each worker is running now (BullMQ does not expose the count). */
  private readonly active = new Map<Worker, Set<string>>();

  constructor(
    private readonly discovery: DiscoveryService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.timeoutMs = config.get('app', { infer: true }).shutdownTimeoutMs;
  }

  onApplicationBootstrap(): void {
    for (const worker of this.workers()) {
      const running = new Set<string>();
      this.active.set(worker, running);
      worker.on('active', (job: Job) => running.add(String(job.id)));
      const done = (job?: Job) => job && running.delete(String(job.id));
      worker.on('completed', done);
      worker.on('failed', done);
    }
  }

  onModuleDestroy(): void {
    // Last resort if something hangs (a dependency that never answers a close): exit rather than
    // wait for SIGKILL.
    const budgetMs = shutdownBudgetMs(this.timeoutMs);
    setTimeout(() => {
      this.logger.fatal(`shutdown still incomplete after ${budgetMs} ms: exiting`);
      process.exit(1);
    }, budgetMs).unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    const workers = this.workers();
    if (workers.length === 0) return;
    const started = Date.now();
    await Promise.all(workers.map((w) => this.drain(w)));
    this.logger.log(`workers stopped in ${Date.now() - started} ms`);
  }

  private async drain(worker: Worker): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.timeoutMs)));
    // pause() stops fetching and resolves once the active jobs have finished. While the backend is
    // down it never resolves, so a worker with none of our jobs running is not waited for.
    const paused = worker.pause().then(
      () => 'paused' as const,
      (err: Error) => {
        this.logger.warn(`worker ${worker.name}: pausing failed: ${err.message}`);
        return 'idle' as const;
      },
    );
    const idle = this.whenIdle(this.active.get(worker)).then(() => 'idle' as const);
    const outcome = await Promise.race([paused, idle, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.warn(`worker ${worker.name}: active jobs did not finish within ${this.timeoutMs} ms; closing anyway (their locks expire and another worker takes them over)`);
    }
    // Forced unless pause() completed: nothing of ours is running, or what is left is given up.
    await worker.close(outcome !== 'paused').catch((err: Error) => this.logger.warn(`worker ${worker.name}: close failed: ${err.message}`));
  }

  /** Resolves once no job is running, then lets pause() a moment to finish its own bookkeeping. */
  private async whenIdle(running: Set<string> | undefined): Promise<void> {
    if (!running) return new Promise(() => undefined);
    while (running.size > 0) await sleep(50);
    await sleep(1000);
  }

  private workers(): Worker[] {
    const found: Worker[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (!(instance instanceof WorkerHost)) continue;
      try {
        found.push(instance.worker);
      } catch {
        // Processor without a worker (registration disabled): nothing to stop.
      }
    }
    return found;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
