import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { AppConfig } from '../config/configuration.js';
import { ManagementAccess } from './management.js';

/** What the management listener serves: the probes and the metrics, nothing else. */
const MANAGEMENT_PATHS = new Set(['/metrics', '/health/live', '/health/ready']);

/**
 * The management listener (MANAGEMENT_PORT): `/metrics`, `/health/live` and `/health/ready` on a port
 * of their own, for the kubelet and Prometheus, while the public port serves deliveries. Each request
 * is handed to the application in-process (Fastify's inject), so it runs exactly the routes the public
 * port used to run (details included), marked as coming from here. Opened at boot, closed last: it
 * answers probes while the application drains at shutdown.
 */
@Injectable()
export class ManagementServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ManagementServer.name);
  private readonly host: string;
  private server?: FastifyInstance;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly access: ManagementAccess,
    config: ConfigService<AppConfig, true>,
  ) {
    this.host = config.get('app', { infer: true }).host;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.access.port === undefined) return;
    const app = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    const server = Fastify({ logger: false });
    server.get('/*', async (req, reply) => {
      const path = req.url.split('?')[0];
      if (!MANAGEMENT_PATHS.has(path))
        return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `${path} is not served here` });
      const res = await app.inject({ method: 'GET', url: req.url, headers: this.access.mark(req.headers) });
      for (const name of ['content-type', 'cache-control', 'vary']) if (res.headers[name]) void reply.header(name, res.headers[name]);
      return reply.code(res.statusCode).send(res.rawPayload);
    });
    await server.listen({ port: this.access.port, host: this.host });
    this.server = server;
    this.logger.log(`management listener on ${this.host}:${this.access.port} (/metrics, /health/live, /health/ready)`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server?.close();
  }
}
