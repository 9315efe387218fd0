import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { EventLoopHealthIndicator } from './event-loop.health.js';
import { LifecycleService } from './lifecycle.service.js';
import { ReadinessService } from './readiness.service.js';

export const LIVENESS_PATH = '/health/live';
export const READINESS_PATH = '/health/ready';

// terminus's @HealthCheck() documents the 200 and 503 bodies.
@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly eventLoop: EventLoopHealthIndicator,
    private readonly readiness: ReadinessService,
    private readonly lifecycle: LifecycleService,
  ) {}

  /**
   * The process can serve. No dependency is checked: a database outage must not make Kubernetes
   * restart every pod. Stays 200 while shutting down (only readiness goes down then).
   */
  @Get(LIVENESS_PATH)
  @HealthCheck()
  @ApiOperation({
    summary: 'Liveness: the process can serve',
    description: 'No dependency is checked; stays 200 while shutting down. 503 only when the event loop is stalled.',
  })
  async live(): Promise<HealthCheckResult> {
    if (this.lifecycle.shuttingDown) {
      // terminus reports every check as shutting_down (503) once shutdown begins; liveness must not.
      const eventLoop = this.eventLoop.check();
      return { status: 'ok', info: eventLoop, error: {}, details: eventLoop };
    }
    return this.health.check([() => this.eventLoop.check()]);
  }

  /** PostgreSQL, Redis and every loaded feature module answer; 503 with terminus's JSON otherwise. */
  @Get(READINESS_PATH)
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness: PostgreSQL, Redis and every loaded feature module answer',
    description: '503 while a dependency is down or the service is shutting down.',
  })
  ready(): Promise<HealthCheckResult> {
    return this.readiness.check();
  }
}
