import { Module } from '@nestjs/common';
import { InboxModule } from '../inbox/inbox.module.js';
import { AdminAuthModule } from './admin-auth.module.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { AdminController } from './admin.controller.js';
import { AdminService } from './admin.service.js';

/**
 * The admin API under /admin/events. AppModule imports it only when ADMIN_TOKEN is set and the role
 * serves HTTP traffic (api, all): it needs the inbox and the producer queue, not the worker.
 */
@Module({
  imports: [InboxModule, AdminAuthModule],
  controllers: [AdminController],
  providers: [AdminService, AdminTokenGuard],
})
export class AdminModule {}
