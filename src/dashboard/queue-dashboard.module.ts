import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import { BullBoardModule, InjectBullBoard } from '@bull-board/nestjs';
import type { BullBoardInstance } from '@bull-board/nestjs';
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { AdminLoginModule } from '../admin/admin-login.module.js';
import { AdminSession, DASHBOARD_PATH, registerSessionGate } from '../admin/admin-session.js';
import { AdminServiceModule } from '../admin/admin.module.js';
import { AdminService } from '../admin/admin.service.js';
import { WEBHOOKS_QUEUE } from '../queue/queue.constants.js';
import { ReplayingQueueAdapter } from './replaying-queue.adapter.js';

@Injectable()
class DashboardGate implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    // Constructed only with ADMIN_TOKEN set (it throws otherwise): the dashboard is never served unguarded.
    private readonly session: AdminSession,
    @InjectBullBoard() private readonly board: BullBoardInstance,
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue,
    private readonly admin: AdminService,
  ) {}

  onModuleInit(): void {
    registerSessionGate(this.adapterHost.httpAdapter.getInstance<FastifyInstance>(), this.session, DASHBOARD_PATH);
    this.board.addQueue(new ReplayingQueueAdapter(this.queue, (job) => this.admin.replayJob(job)));
  }
}

/**
 * Bull Board at /admin/queues (jobs by state, failed jobs with their error, retry), for a browser:
 * log in at /admin/login with ADMIN_TOKEN. Loaded only when ADMIN_TOKEN is set (else 404). Its
 * Retry buttons replay events (ReplayingQueueAdapter).
 */
@Module({
  imports: [
    AdminLoginModule,
    AdminServiceModule,
    // `as never`: @bull-board/fastify pins its own copy of @bull-board/api, so the types differ (not the shape).
    BullBoardModule.forRoot({
      route: DASHBOARD_PATH,
      adapter: BullBoardFastifyAdapter as never,
      boardOptions: { uiConfig: { boardTitle: 'interview-webhooks' } },
    }),
  ],
  providers: [DashboardGate],
})
export class QueueDashboardModule {}
