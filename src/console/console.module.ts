import { Injectable, Logger, Module, OnModuleInit } from '@nestjs/common';
import { DiscoveryModule, HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { AdminAuth } from '../admin/admin-auth.js';
import { AdminAuthModule } from '../admin/admin-auth.module.js';
import { AdminLoginModule } from '../admin/admin-login.module.js';
import { AdminServiceModule } from '../admin/admin.module.js';
import { AdminSession, CONSOLE_PATH, registerSessionGate } from '../admin/admin-session.js';
import { AuditModule } from '../audit/audit.module.js';
import { AuditLog } from '../audit/audit-log.service.js';
import { InboxModule } from '../inbox/inbox.module.js';
import { ErasureService } from '../privacy/erasure.service.js';
import { PrivacyModule } from '../privacy/privacy.module.js';
import { consoleRoutes } from './console.routes.js';
import { ConsoleService } from './console.service.js';

@Injectable()
class ConsoleGate implements OnModuleInit {
  private readonly logger = new Logger('Console');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    // Constructed only with an admin token (AdminAuth throws otherwise): the console is never served unguarded.
    private readonly session: AdminSession,
    private readonly auth: AdminAuth,
    private readonly service: ConsoleService,
    private readonly erasures: ErasureService,
    private readonly audit: AuditLog,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    registerSessionGate(fastify, this.session, CONSOLE_PATH);
    const deps = { service: this.service, erasures: this.erasures, audit: this.audit, auth: this.auth };
    void fastify.register((scope) => consoleRoutes(scope, deps), { prefix: CONSOLE_PATH });
    this.logger.log(`events console at ${CONSOLE_PATH}`);
  }
}

/**
 * The events console at /admin/console (docs/operations.md): the inbox's deliveries with their
 * outcomes, attempts, records and payloads, replays and erasures, server-rendered HTML behind the
 * admin login (the queue dashboard's). Loaded only when an admin token is set (else 404).
 */
@Module({
  imports: [AdminAuthModule, AdminLoginModule, AdminServiceModule, AuditModule, InboxModule, PrivacyModule, DiscoveryModule],
  providers: [ConsoleService, ConsoleGate],
})
export class ConsoleModule {}
