import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { currentLogContext } from '../logging/log-context.js';
import { AdminAuth, bearerToken, TooManyAttemptsException } from './admin-auth.js';

/**
 * `Authorization: Bearer <admin token>`, with failed attempts limited per client (AdminAuth). The
 * token's name becomes the request's actor: in its log lines and in the audit log.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  constructor(private readonly auth: AdminAuth) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    try {
      await this.auth.assertNotBlocked(req.ip);
    } catch (err) {
      if (err instanceof TooManyAttemptsException) void reply.header('retry-after', String(err.retryAfterSeconds));
      throw err;
    }
    const token = bearerToken(req.headers.authorization);
    const actor = token === undefined ? undefined : this.auth.authenticate(token);
    if (actor !== undefined) {
      const context = currentLogContext();
      if (context) context.actor = actor;
      return true;
    }
    await this.auth.recordFailure(req.ip);
    void reply.header('www-authenticate', 'Bearer realm="admin"');
    throw new UnauthorizedException(token !== undefined ? 'invalid admin token' : 'missing bearer token');
  }
}
