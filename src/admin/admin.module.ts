import { Module } from '@nestjs/common';
import { InboxModule } from '../inbox/inbox.module.js';
import { AdminAuthModule } from './admin-auth.module.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { AdminController } from './admin.controller.js';
import { AdminService } from './admin.service.js';

/** The dead-letter desk without its routes: the queue dashboard replays through it too, in every role. */
@Module({
  imports: [InboxModule],
  providers: [AdminService],
  exports: [AdminService],
})
export class AdminServiceModule {}

/**
 * The admin API under /admin/events. AppModule imports it only when ADMIN_TOKEN is set and the role
 * serves HTTP traffic (api, all): it needs the inbox and the producer queue, not the worker.
 */
@Module({
  imports: [AdminServiceModule, AdminAuthModule],
  controllers: [AdminController],
  providers: [AdminTokenGuard],
})
export class AdminModule {}
