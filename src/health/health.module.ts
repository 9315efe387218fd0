import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { DatabaseHealthIndicator } from './database.health.js';
import { QueueErrorLogService } from '../logging/queue-error-log.service.js';
import { EventLoopHealthIndicator } from './event-loop.health.js';
import { HealthController } from './health.controller.js';
import { HealthMetrics, healthMetricProviders } from './health.metrics.js';
import { LifecycleService } from './lifecycle.service.js';
import { ReadinessService } from './readiness.service.js';
import { RedisHealthIndicator } from './redis.health.js';

/**
 * GET /health/live and /health/ready, the readiness gauge, and the shutdown sequence. Global so
 * that feature modules can build their indicators with HealthIndicatorService without importing it.
 */
@Global()
@Module({
  // Readiness transitions are logged by ReadinessService, once each, not on every failed probe.
  imports: [TerminusModule.forRoot({ logger: false }), DiscoveryModule],
  controllers: [HealthController],
  providers: [
    LifecycleService,
    ReadinessService,
    DatabaseHealthIndicator,
    RedisHealthIndicator,
    EventLoopHealthIndicator,
    QueueErrorLogService,
    HealthMetrics,
    ...healthMetricProviders,
  ],
  exports: [TerminusModule, LifecycleService],
})
export class HealthModule {}
