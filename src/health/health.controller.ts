import { Controller, Get, HttpException, Inject, Optional, Req, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import type { FastifyRequest } from 'fastify';
import { EventLoopHealthIndicator } from './event-loop.health.js';
import { LifecycleService } from './lifecycle.service.js';
import { ManagementAccess, PROBE_AUTHORIZER, type ProbeAuthorizer } from './management.js';
import { ReadinessService } from './readiness.service.js';

export const LIVENESS_PATH = '/health/live';
export const READINESS_PATH = '/health/ready';

/** What an anonymous caller on the public port learns: up or down, nothing about why. */
type ProbeAnswer = HealthCheckResult | { status: 'ok' | 'error' };

const DETAILS =
  'The details (each check: the database, Redis, each feature, the queue and its counts) are shown on MANAGEMENT_PORT, or with an admin token; anyone else gets `{"status": "ok"}` or `{"status": "error"}`.';

// terminus's @HealthCheck() documents the 200 and 503 bodies.
@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly eventLoop: EventLoopHealthIndicator,
    private readonly readiness: ReadinessService,
    private readonly lifecycle: LifecycleService,
    private readonly management: ManagementAccess,
    @Optional() @Inject(PROBE_AUTHORIZER) private readonly authorizer?: ProbeAuthorizer,
  ) {}

  /**
   * The process can serve. No dependency is checked: a database outage must not make Kubernetes
   * restart every pod. Stays 200 while shutting down (only readiness goes down then).
   */
  @Get(LIVENESS_PATH)
  @HealthCheck()
  @ApiOperation({
    summary: 'Liveness: the process can serve',
    description: `No dependency is checked; stays 200 while shutting down. 503 only when the event loop is stalled. ${DETAILS}`,
  })
  async live(@Req() req: FastifyRequest): Promise<ProbeAnswer> {
    return this.answer(req, async () => {
      if (this.lifecycle.shuttingDown) {
        // terminus reports every check as shutting_down (503) once shutdown begins; liveness must not.
        const eventLoop = this.eventLoop.check();
        return { status: 'ok', info: eventLoop, error: {}, details: eventLoop };
      }
      return this.health.check([() => this.eventLoop.check()]);
    });
  }

  /** PostgreSQL, Redis and every loaded feature module answer; 503 with terminus's JSON otherwise. */
  @Get(READINESS_PATH)
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness: PostgreSQL, Redis and every loaded feature module answer',
    description: `503 while a dependency is down or the service is shutting down. ${DETAILS}`,
  })
  ready(@Req() req: FastifyRequest): Promise<ProbeAnswer> {
    return this.answer(req, () => this.readiness.check());
  }

  /** The probe's result, with its details only for the management listener or an admin token's holder. */
  private async answer(req: FastifyRequest, probe: () => Promise<HealthCheckResult>): Promise<ProbeAnswer> {
    const details = this.management.isManagementRequest(req) || (this.authorizer !== undefined && (await this.authorizer.authorizes(req)));
    try {
      const result = await probe();
      return details ? result : { status: 'ok' };
    } catch (err) {
      if (details || !(err instanceof HttpException) || err.getStatus() !== 503) throw err;
      throw new ServiceUnavailableException({ status: 'error' });
    }
  }
}
