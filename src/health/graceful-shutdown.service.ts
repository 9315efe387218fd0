import { WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DiscoveryService } from '@nestjs/core';
import type { Worker } from 'bullmq';
import { AppConfig } from '../config/configuration.js';

// Beyond the worker bound, the rest of the shutdown (HTTP close, pools) gets this long before the
// process gives up on a clean exit.
const HARD_EXIT_GRACE_MS = 10_000;

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
export class GracefulShutdownService implements OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(GracefulShutdownService.name);
  private readonly timeoutMs: number;

  constructor(
    private readonly discovery: DiscoveryService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.timeoutMs = config.get('app', { infer: true }).shutdownTimeoutMs;
  }

  onModuleDestroy(): void {
    // Last resort if something hangs (a dependency that never answers a close): exit rather than
    // wait for SIGKILL.
    setTimeout(() => {
      this.logger.fatal(`shutdown still incomplete after ${this.timeoutMs + HARD_EXIT_GRACE_MS} ms: exiting`);
      process.exit(1);
    }, this.timeoutMs + HARD_EXIT_GRACE_MS).unref();
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
    const timedOut = new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), this.timeoutMs)));
    // pause() stops fetching and resolves once the active jobs have finished.
    const finished = worker.pause().then(
      () => false as const,
      (err: Error) => {
        this.logger.warn(`worker ${worker.name}: pausing failed: ${err.message}`);
        return false as const;
      },
    );
    const cutOff = await Promise.race([finished, timedOut]);
    clearTimeout(timer);
    if (cutOff) {
      this.logger.warn(`worker ${worker.name}: active jobs did not finish within ${this.timeoutMs} ms; closing anyway (their locks expire and another worker takes them over)`);
    }
    await worker.close(cutOff).catch((err: Error) => this.logger.warn(`worker ${worker.name}: close failed: ${err.message}`));
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
