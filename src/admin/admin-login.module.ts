import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { AuditModule } from '../audit/audit.module.js';
import { AuditLog } from '../audit/audit-log.service.js';
import { AdminAuth } from './admin-auth.js';
import { AdminAuthModule } from './admin-auth.module.js';
import { AdminSession, registerLoginRoutes } from './admin-session.js';

@Injectable()
class AdminLoginRoutes implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly session: AdminSession,
    private readonly audit: AuditLog,
  ) {}

  onModuleInit(): void {
    registerLoginRoutes(this.adapterHost.httpAdapter.getInstance<FastifyInstance>(), this.session, (action, actor) =>
      this.audit.record({ action, actor }),
    );
  }
}

/**
 * The browser login shared by the queue dashboard and the events console (/admin/login,
 * /admin/logout, the session cookie), registered once however many of them load. AdminSession is
 * constructed only with an admin token (AdminAuth throws otherwise).
 */
@Module({
  imports: [AdminAuthModule, AuditModule],
  providers: [{ provide: AdminSession, inject: [AdminAuth], useFactory: (auth: AdminAuth) => new AdminSession(auth) }, AdminLoginRoutes],
  exports: [AdminSession],
})
export class AdminLoginModule {}
