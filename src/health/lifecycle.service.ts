import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/configuration.js';

/**
 * After SHUTDOWN_TIMEOUT_MS (the workers' bound), the rest of the shutdown (HTTP close, queue and
 * database connections) gets this long before the process gives up on a clean exit.
 */
export const HARD_EXIT_GRACE_MS = 5000;

/**
 * The longest a shutdown takes from SIGTERM to exit, whatever is down: a pod's
 * terminationGracePeriodSeconds must exceed its preStop sleep plus this (deploy/k8s; checked by a test).
 */
export function shutdownBudgetMs(shutdownTimeoutMs: number): number {
  return shutdownTimeoutMs + HARD_EXIT_GRACE_MS;
}

/**
 * Knows whether the process is shutting down. Set by the first shutdown hook Nest runs
 * (onModuleDestroy), so readiness reports down and new deliveries get 503 before anything closes.
 * From then on the process exits within shutdownBudgetMs: if something still hangs at that bound
 * (a dependency that never answers a close), it exits 1 rather than wait for SIGKILL.
 */
@Injectable()
export class LifecycleService implements OnModuleDestroy {
  private readonly logger = new Logger(LifecycleService.name);
  private readonly budgetMs: number;
  private stopping = false;

  constructor(config: ConfigService<AppConfig, true>) {
    this.budgetMs = shutdownBudgetMs(config.get('app', { infer: true }).shutdownTimeoutMs);
  }

  get shuttingDown(): boolean {
    return this.stopping;
  }

  onModuleDestroy(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.logger.log('shutting down: readiness is down, new deliveries get 503');
    setTimeout(() => {
      this.logger.fatal(`shutdown still incomplete after ${this.budgetMs} ms: exiting`);
      process.exit(1);
    }, this.budgetMs).unref();
  }
}
