import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { AppConfig } from '../config/configuration.js';

/** Who may see the probes' details on the public port: an admin token's holder (admin/ provides it). */
export const PROBE_AUTHORIZER = 'PROBE_AUTHORIZER';

export interface ProbeAuthorizer {
  /** Whether the request carries an admin token (a wrong one counts as a failed attempt). */
  authorizes(req: FastifyRequest): Promise<boolean>;
}

const NONCE_HEADER = 'x-management-nonce';

/**
 * Where /metrics and the probes are served. With MANAGEMENT_PORT set, only requests that came in on the
 * management listener (ManagementServer, which hands them to the app in-process with a nonce only
 * this process knows) reach them; the public port answers 404 there.
 */
@Injectable()
export class ManagementAccess {
  readonly port?: number;
  private readonly nonce = randomBytes(24).toString('hex');

  constructor(config: ConfigService<AppConfig, true>) {
    this.port = config.get('app', { infer: true }).managementPort;
  }

  /** The headers that mark a request handed over by the management listener. */
  mark(headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
    return { ...headers, [NONCE_HEADER]: this.nonce };
  }

  /** The request came in on the management listener. */
  isManagementRequest(req: Pick<FastifyRequest, 'headers'>): boolean {
    return this.port !== undefined && req.headers[NONCE_HEADER] === this.nonce;
  }

  /** A probe or scrape that the public port must not serve. */
  refusesOnPublicPort(req: Pick<FastifyRequest, 'headers'>): boolean {
    return this.port !== undefined && !this.isManagementRequest(req);
  }
}
