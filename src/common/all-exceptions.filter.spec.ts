import { jest } from '@jest/globals';
import { ArgumentsHost, BadRequestException, Logger, ServiceUnavailableException } from '@nestjs/common';
import { AllExceptionsFilter } from './all-exceptions.filter.js';

function host() {
  const sent: { status?: number; body?: unknown } = {};
  const reply = {
    status(code: number) {
      sent.status = code;
      return reply;
    },
    send(body: unknown) {
      sent.body = body;
      return reply;
    },
  };
  const args = {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => ({ id: 'req-9', url: '/x' }), getResponse: () => reply }),
  } as unknown as ArgumentsHost;
  return { args, sent };
}

describe('AllExceptionsFilter', () => {
  const filter = new AllExceptionsFilter();
  let logged: unknown[][];

  beforeEach(() => {
    logged = [];
    jest.spyOn(Logger.prototype, 'error').mockImplementation((...args: unknown[]) => void logged.push(args));
  });

  afterEach(() => jest.restoreAllMocks());

  it('keeps the status and message of 4xx errors', () => {
    const { args, sent } = host();
    filter.catch(new BadRequestException('session_id: required'), args);
    expect(sent).toEqual({ status: 400, body: { statusCode: 400, message: 'session_id: required', error: 'Bad Request' } });
  });

  it("keeps a 503's body as it is (terminus's health JSON)", () => {
    const { args, sent } = host();
    const result = { status: 'error', info: {}, error: { database: { status: 'down' } }, details: {} };
    filter.catch(new ServiceUnavailableException(result), args);
    expect(sent).toEqual({ status: 503, body: result });
  });

  it('keeps the 4xx status of a Fastify error (body too large)', () => {
    const { args, sent } = host();
    filter.catch(Object.assign(new Error('Request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }), args);
    expect(sent).toEqual({ status: 413, body: { statusCode: 413, error: 'Payload Too Large', message: 'Request body is too large' } });
  });

  it('hides the internals of anything else behind a 500 with the request id, and logs them', () => {
    const { args, sent } = host();
    filter.catch(new Error('password authentication failed for user "postgres" at 10.0.0.5'), args);
    expect(sent.status).toBe(500);
    expect(sent.body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: expect.stringContaining('req-9'),
      requestId: 'req-9',
    });
    expect(JSON.stringify(sent.body)).not.toContain('password');
    expect(logged).toEqual([
      [
        expect.objectContaining({
          requestId: 'req-9',
          err: expect.objectContaining({ message: expect.stringContaining('password authentication failed') }),
        }),
        'unhandled error',
      ],
    ]);
  });
});
