import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminAuth, bearerToken, TooManyAttemptsException } from './admin-auth.js';

/** `Authorization: Bearer <ADMIN_TOKEN>`, with failed attempts limited per client (AdminAuth). */
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
    if (token !== undefined && this.auth.tokenMatches(token)) return true;
    await this.auth.recordFailure(req.ip);
    void reply.header('www-authenticate', 'Bearer realm="admin"');
    throw new UnauthorizedException(token !== undefined ? 'invalid admin token' : 'missing bearer token');
  }
}
