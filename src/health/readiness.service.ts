import { Injectable, Logger, OnModuleInit, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthCheckResult, HealthCheckService, HealthIndicatorFunction, HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { FeedbackHealthIndicator } from '../feedback/feedback.health.js';
import { InterviewsHealthIndicator } from '../interviews/interviews.health.js';
import { NotificationsHealthIndicator } from '../notifications/notifications.health.js';
import { QueueHealthIndicator } from '../queue/queue.health.js';
import { DatabaseHealthIndicator } from './database.health.js';
import { LifecycleService } from './lifecycle.service.js';
import { RedisHealthIndicator } from './redis.health.js';

/** What a feature module contributes to readiness. */
export interface ReadinessIndicator {
  check(): HealthIndicatorResult | PromiseLike<HealthIndicatorResult>;
}

/**
 * Feature modules' indicators, each looked up only if its module is loaded in this role
 * (interviews and feedback run on workers; the queue indicator everywhere).
 */
const FEATURE_INDICATORS: Array<Type<ReadinessIndicator>> = [
  InterviewsHealthIndicator,
  FeedbackHealthIndicator,
  NotificationsHealthIndicator,
  QueueHealthIndicator,
];

/** Readiness: the dependencies answer and every loaded feature module says it can work. */
@Injectable()
export class ReadinessService implements OnModuleInit {
  private readonly logger = new Logger(ReadinessService.name);
  private readonly checks: HealthIndicatorFunction[] = [];
  private lastReady?: boolean;

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly lifecycle: LifecycleService,
    private readonly database: DatabaseHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly moduleRef: ModuleRef,
  ) {}

  onModuleInit(): void {
    this.checks.push(
      () => this.lifecycleCheck(),
      () => this.database.check(),
    );
    if (this.redis.applies) this.checks.push(() => this.redis.check());
    for (const type of FEATURE_INDICATORS) {
      const indicator = this.find(type);
      if (indicator) this.checks.push(() => indicator.check());
    }
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
      const down = Object.entries(result?.error ?? {}).map(([key, v]) => `${key}${v && typeof v === 'object' && 'message' in v ? ` (${String(v.message)})` : ''}`);
      this.logger.warn(`not ready: ${down.join(', ') || 'unknown'}`);
    }
  }

  private find<T>(type: Type<T>): T | undefined {
    try {
      return this.moduleRef.get(type, { strict: false });
    } catch {
      return undefined;
    }
  }
}
