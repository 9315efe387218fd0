import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { redactUrl } from '../logging/logger.js';
import { isDataError, sqlState } from './pg-errors.js';

/** The body of an error answer; the OpenAPI document's `Error` (terminus's 503 is its own). */
export const errorBody = z
  .object({
    statusCode: z.number().int(),
    error: z.string().optional(),
    message: z.string().describe('What was wrong; for 400 it names the field'),
    requestId: z.string().optional().describe('The request id (also in the x-request-id header)'),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof errorBody>;

/**
 * The one exception filter. HttpExceptions keep their status and body (a 400 names the bad field,
 * terminus's 503 carries its JSON); errors with a 4xx `statusCode` (Fastify's own: body too large,
 * bad JSON) keep theirs. Anything else is a 500 whose body says nothing about internals and gives
 * the request id to quote; the details go to the log under that id.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ExceptionsHandler');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const req = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const requestId = String(req.id);

    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      if (status >= 500 && status !== (HttpStatus.SERVICE_UNAVAILABLE as number)) {
        this.logger.error({ err: exception, requestId, url: redactUrl(req.url) }, 'request failed');
      }
      void reply.status(status).send(typeof body === 'string' ? { statusCode: status, message: body } : body);
      return;
    }

    const status = clientErrorStatus(exception);
    if (status !== undefined) {
      const message = (exception as Error).message;
      void reply.status(status).send({ statusCode: status, error: httpReason(status), message } satisfies ErrorBody);
      return;
    }

    // A value PostgreSQL refused that validation let through: the client's input, not our failure.
    if (isDataError(exception)) {
      this.logger.warn({ err: exception, requestId, url: redactUrl(req.url) }, 'input refused by the database (a validation gap)');
      void reply.status(400).send({
        statusCode: 400,
        error: 'Bad Request',
        message: `the request holds a value the database cannot take (SQLSTATE ${sqlState(exception)})`,
        requestId,
      } satisfies ErrorBody);
      return;
    }

    this.logger.error({ err: exception, requestId, url: redactUrl(req.url) }, 'unhandled error');
    void reply.status(500).send({
      statusCode: 500,
      error: 'Internal Server Error',
      message: `Internal server error; quote request id ${requestId} when reporting it`,
      requestId,
    } satisfies ErrorBody);
  }
}

function clientErrorStatus(exception: unknown): number | undefined {
  const code = (exception as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' && code >= 400 && code < 500 ? code : undefined;
}

function httpReason(status: number): string {
  const name = HttpStatus[status];
  return typeof name === 'string'
    ? name
        .toLowerCase()
        .split('_')
        .map((w) => w[0].toUpperCase() + w.slice(1))
        .join(' ')
    : 'Error';
}
