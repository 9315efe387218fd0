import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import {
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorFunction,
  HealthIndicatorResult,
  HealthIndicatorService,
} from '@nestjs/terminus';
import { LifecycleService } from './lifecycle.service.js';
import { ReadinessCheck, ReadinessIndicator } from './readiness-indicator.js';

/**
 * Readiness: the process is not shutting down, and every check the loaded modules contribute
 * (@ReadinessIndicator: the database, Redis, each feature's table, the queue) answers.
 */
@Injectable()
export class ReadinessService implements OnModuleInit {
  private readonly logger = new Logger(ReadinessService.name);
  private readonly checks: HealthIndicatorFunction[] = [];
  private lastReady?: boolean;

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly lifecycle: LifecycleService,
    private readonly discovery: DiscoveryService,
  ) {}

  onModuleInit(): void {
    const contributed = this.discovery
      .getProviders({ metadataKey: ReadinessIndicator.KEY })
      .map((wrapper) => ({
        check: wrapper.instance as ReadinessCheck,
        order: this.discovery.getMetadataByDecorator(ReadinessIndicator, wrapper)!.order,
      }))
      .sort((a, b) => a.order - b.order);
    this.checks.push(
      () => this.lifecycleCheck(),
      ...contributed.map(
        ({ check }) =>
          () =>
            check.check(),
      ),
    );
  }

  /** Resolves with terminus's result, or throws ServiceUnavailableException carrying it (503). */
  async check(): Promise<HealthCheckResult> {
    try {
      const result = await this.health.check(this.checks);
      this.noteTransition(true, result);
      return result;
    } catch (err) {
      const result = (err as { getResponse?: () => unknown }).getResponse?.() as HealthCheckResult | undefined;
      this.noteTransition(false, result);
      throw err;
    }
  }

  async isReady(): Promise<boolean> {
    try {
      await this.check();
      return true;
    } catch {
      return false;
    }
  }

  private lifecycleCheck(): HealthIndicatorResult {
    const indicator = this.indicators.check('lifecycle');
    return this.lifecycle.shuttingDown ? indicator.down({ message: 'shutting down' }) : indicator.up();
  }

  private noteTransition(ready: boolean, result?: HealthCheckResult): void {
    if (ready === this.lastReady) return;
    this.lastReady = ready;
    if (ready) {
      this.logger.log('ready: every dependency answers');
    } else {
      const down = Object.entries(result?.error ?? {}).map(
        ([key, v]) => `${key}${v && typeof v === 'object' && 'message' in v ? ` (${String(v.message)})` : ''}`,
      );
      this.logger.warn(`not ready: ${down.join(', ') || 'unknown'}`);
    }
  }
}
