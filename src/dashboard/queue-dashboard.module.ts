import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import { BullBoardModule } from '@bull-board/nestjs';
import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { AdminAuth } from '../admin/admin-auth.js';
import { AdminAuthModule } from '../admin/admin-auth.module.js';
import { WEBHOOKS_QUEUE } from '../queue/queue.constants.js';
import { DASHBOARD_PATH, DashboardAuth, registerDashboardAuth } from './dashboard-auth.js';

@Injectable()
class DashboardGate implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    // Constructed only with ADMIN_TOKEN set (it throws otherwise): the dashboard is never served unguarded.
    private readonly auth: AdminAuth,
  ) {}

  onModuleInit(): void {
    registerDashboardAuth(this.adapterHost.httpAdapter.getInstance<FastifyInstance>(), new DashboardAuth(this.auth));
  }
}

/**
 * Bull Board at /admin/queues (jobs by state, failed jobs with their error, retry), for a browser:
 * log in at /admin/login with ADMIN_TOKEN. Loaded only when ADMIN_TOKEN is set (else 404).
 */
@Module({
  imports: [
    AdminAuthModule,
    // `as never`: @bull-board/fastify pins its own copy of @bull-board/api, so the types differ (not the shape).
    BullBoardModule.forRoot({
      route: DASHBOARD_PATH,
      adapter: BullBoardFastifyAdapter as never,
      boardOptions: { uiConfig: { boardTitle: 'interview-webhooks' } },
    }),
    BullBoardModule.forFeature({ name: WEBHOOKS_QUEUE, adapter: BullMQAdapter }),
  ],
  providers: [DashboardGate],
})
export class QueueDashboardModule {}
