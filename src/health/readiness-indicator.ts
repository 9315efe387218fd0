import { DiscoveryService } from '@nestjs/core';
import type { HealthIndicatorResult } from '@nestjs/terminus';

/** What a module contributes to readiness: one terminus check under its own key. */
export interface ReadinessCheck {
  check(): HealthIndicatorResult | PromiseLike<HealthIndicatorResult>;
}

/**
 * Marks a provider as a readiness check of the module that owns it (`@ReadinessIndicator({ order })`
 * on the class). The health module collects every marked provider of the modules loaded in this
 * role, so it never imports them, and a module contributes a check by declaring one. `order` sorts
 * the checks in /health/ready (dependencies first, then features, then the queue).
 */
export const ReadinessIndicator = DiscoveryService.createDecorator<{ order: number }>();

/** Where a module's check goes in /health/ready. */
export const READINESS_ORDER = { database: 10, redis: 20, feature: 30, queue: 40 } as const;
