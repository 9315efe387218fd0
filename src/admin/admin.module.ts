import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { InboxModule } from '../inbox/inbox.module.js';
import { PrivacyModule } from '../privacy/privacy.module.js';
import { AdminAuthModule } from './admin-auth.module.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { AdminController } from './admin.controller.js';
import { AdminService } from './admin.service.js';
import { AuditController } from './audit.controller.js';
import { PrivacyController } from './privacy.controller.js';

/** The dead-letter desk without its routes: the queue dashboard replays through it too, in every role. */
@Module({
  imports: [InboxModule, AuditModule],
  providers: [AdminService],
  exports: [AdminService],
})
export class AdminServiceModule {}

/**
 * The admin API: the dead-letter desk (/admin/events), erasure and subject access (/admin/erasures,
 * /admin/subjects) and the audit log (/admin/audit). AppModule imports it only when an admin token is
 * set and the role serves HTTP traffic (api, all).
 */
@Module({
  imports: [AdminServiceModule, AdminAuthModule, PrivacyModule, AuditModule],
  controllers: [AdminController, PrivacyController, AuditController],
  providers: [AdminTokenGuard],
})
export class AdminModule {}
