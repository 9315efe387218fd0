import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../config/configuration.js';
import { PROBE_AUTHORIZER, ProbeAuthorizer } from '../health/management.js';
import { AdminAuth, bearerToken } from './admin-auth.js';

/**
 * One AdminAuth per process, so the admin API, the queue dashboard and the probes' details share one
 * count of failed attempts. Global: the health module asks it (PROBE_AUTHORIZER) without importing
 * admin/; AppModule loads it only where an admin token is set.
 */
@Global()
@Module({
  providers: [
    {
      provide: AdminAuth,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => new AdminAuth(config.get('admin', { infer: true }).tokens),
    },
    {
      provide: PROBE_AUTHORIZER,
      inject: [AdminAuth],
      useFactory: (auth: AdminAuth): ProbeAuthorizer => ({
        authorizes: async (req: FastifyRequest) => {
          const token = bearerToken(req.headers.authorization);
          if (token === undefined) return false;
          // A blocked client gets no details, not an error: probes must keep answering.
          if (
            await auth.assertNotBlocked(req.ip).then(
              () => false,
              () => true,
            )
          )
            return false;
          if (auth.authenticate(token) !== undefined) return true;
          await auth.recordFailure(req.ip);
          return false;
        },
      }),
    },
  ],
  exports: [AdminAuth, PROBE_AUTHORIZER],
})
export class AdminAuthModule {}
