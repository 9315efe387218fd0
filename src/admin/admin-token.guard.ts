import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppConfig } from '../config/configuration.js';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * `Authorization: Bearer <ADMIN_TOKEN>`. Both sides are hashed to equal-length digests first, so
 * timingSafeEqual never throws and the comparison time says nothing about the token's length.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(config: ConfigService<AppConfig, true>) {
    const token = config.get('admin', { infer: true }).token;
    // AdminModule is only loaded when ADMIN_TOKEN is set; refuse to guard with an empty token.
    if (!token) throw new Error('AdminTokenGuard needs ADMIN_TOKEN');
    this.expected = sha256(token);
  }

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const header = http.getRequest<FastifyRequest>().headers.authorization ?? '';
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (match && timingSafeEqual(sha256(match[1]), this.expected)) return true;
    http.getResponse<FastifyReply>().header('www-authenticate', 'Bearer realm="admin"');
    throw new UnauthorizedException(match ? 'invalid admin token' : 'missing bearer token');
  }
}
