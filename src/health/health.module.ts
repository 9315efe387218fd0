import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { EventLoopHealthIndicator } from './event-loop.health.js';
import { HealthController } from './health.controller.js';
import { HealthMetrics, healthMetricProviders } from './health.metrics.js';
import { LifecycleService } from './lifecycle.service.js';
import { ManagementAccess } from './management.js';
import { ManagementServer } from './management.server.js';
import { ReadinessService } from './readiness.service.js';

/**
 * GET /health/live and /health/ready, the readiness gauge, and the shutdown flag. Readiness
 * collects the checks other modules mark with @ReadinessIndicator; global so that they can build
 * them with terminus's HealthIndicatorService without importing this module.
 */
@Global()
@Module({
  // Readiness transitions are logged by ReadinessService, once each, not on every failed probe.
  imports: [TerminusModule.forRoot({ logger: false }), DiscoveryModule],
  controllers: [HealthController],
  providers: [
    LifecycleService,
    ReadinessService,
    EventLoopHealthIndicator,
    HealthMetrics,
    ...healthMetricProviders,
    ManagementAccess,
    ManagementServer,
  ],
  exports: [TerminusModule, LifecycleService, ManagementAccess],
})
export class HealthModule {}
