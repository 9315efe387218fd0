import { Writable } from 'node:stream';
import { runWithLogContext } from './log-context.js';
import { createLogger, redactUrl, scrubEmails } from './logger.js';
import { PinoLoggerService } from './pino-logger.service.js';

async function capture(level = 'debug') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).trim().split('\n'));
      cb();
    },
  });
  const logger = await createLogger({ level, destination, base: { service: 'test' } });
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l)) };
}

describe('createLogger', () => {
  it('redacts signature, authorization and cookie headers, and emails at any depth', async () => {
    const { logger, lines, parsed } = await capture();
    logger.info(
      {
        req: {
          headers: {
            'x-webhook-signature': 'deadbeef',
            'x-interviewrelay-signature': 'cafe',
            authorization: 'Bearer t0ken',
            cookie: 'sid=1',
            'content-type': 'application/json',
          },
        },
        payload: { invitee_email: 'alice@example.com', nested: { email: 'bob@example.com' } },
        participant_email: 'carol@example.com',
      },
      'delivery',
    );
    const text = lines.join('\n');
    for (const secret of ['deadbeef', 'cafe', 't0ken', 'sid=1', 'alice@', 'bob@', 'carol@']) expect(text).not.toContain(secret);
    const [line] = parsed();
    expect(line.req.headers['content-type']).toBe('application/json');
    expect(line.req.headers.authorization).toBe('[redacted]');
    expect(line.payload.invitee_email).toBe('[redacted]');
  });

  it("redacts below the depths a path list reaches, in arrays, whatever the key case, and leaves the caller's object alone", async () => {
    const { logger, lines, parsed } = await capture();
    const logged = {
      a: { b: { c: { d: { e: { invitee_email: 'deep@example.com' } } } } },
      list: [{ participantEmail: 'listed@example.com', ok: 1 }, 'plain'],
      response: { headers: { Authorization: 'Bearer s3cret', 'Set-Cookie': 'sid=2' } },
      fine: { count: 3 },
    };
    logger.info(logged, 'nested');
    const text = lines.join('\n');
    for (const secret of ['deep@', 'listed@', 's3cret', 'sid=2']) expect(text).not.toContain(secret);
    const [line] = parsed();
    expect(line.list).toEqual([{ participantEmail: '[redacted]', ok: 1 }, 'plain']);
    expect(line.fine).toEqual({ count: 3 });
    expect(logged.a.b.c.d.e.invitee_email).toBe('deep@example.com');
    expect(logged.response.headers.Authorization).toBe('Bearer s3cret');
  });

  it('scrubs email addresses out of messages', async () => {
    const { logger, parsed } = await capture();
    logger.warn('could not notify dave.o+x@mail.example.org about it');
    expect(parsed()[0].msg).toBe('could not notify [redacted] about it');
    expect(scrubEmails('no address here: a@b')).toBe('no address here: a@b');
  });

  it('honours the level and writes JSON with a readable level name', async () => {
    const { logger, parsed } = await capture('warn');
    logger.info('hidden');
    logger.error('shown');
    expect(parsed()).toEqual([expect.objectContaining({ level: 'error', msg: 'shown', service: 'test' })]);
  });

  it('puts the current request id on Nest Logger lines, with the class as context', async () => {
    const { logger, parsed } = await capture();
    const nest = new PinoLoggerService(logger);
    runWithLogContext({ requestId: 'req-1', eventId: 'ev-1' }, () => nest.warn('event failed', 'WebhookEventsProcessor'));
    nest.error('boom', 'Error: boom\n    at x (y.js:1:1)', 'Thing');
    const [inContext, outside] = parsed();
    expect(inContext).toMatchObject({
      level: 'warn',
      msg: 'event failed',
      context: 'WebhookEventsProcessor',
      requestId: 'req-1',
      eventId: 'ev-1',
    });
    expect(outside).toMatchObject({ level: 'error', msg: 'boom', context: 'Thing', stack: expect.stringContaining('at x') });
    expect(outside.requestId).toBeUndefined();
  });

  it('never writes the SQL parameters of a failed statement', async () => {
    const { logger, lines } = await capture();
    const err = Object.assign(new Error('invalid input syntax'), {
      query: 'SELECT $1',
      parameters: ['ada@example.com', 'secret-value'],
      driverError: { code: '22P02', parameters: ['secret-value'] },
    });
    logger.error({ err }, 'failed');
    const text = lines.join('\n');
    expect(text).toContain('SELECT $1');
    expect(text).not.toContain('secret-value');
    expect(text).not.toContain('ada@');
  });
});

describe('redactUrl', () => {
  it('hides secret query values and values holding an email, and keeps the rest', () => {
    expect(redactUrl('/admin/events?token=abc&limit=5')).toBe('/admin/events?token=[redacted]&limit=5');
    expect(redactUrl('/admin/events?session_id=ada%40example.com&status=failed')).toBe('/admin/events?session_id=[redacted]&status=failed');
    expect(redactUrl('/admin/console/events?session_id=sess_1&payload=%7B%22comment%22%3A%22hi%22%7D&event=x')).toBe(
      '/admin/console/events?session_id=[redacted]&payload=[redacted]&event=x',
    );
    expect(redactUrl('/x?api_key=1&Signature=2&invitee_email=3')).toBe(
      '/x?api_key=[redacted]&Signature=[redacted]&invitee_email=[redacted]',
    );
    expect(redactUrl('/health/live')).toBe('/health/live');
    expect(redactUrl('/dev/sessions/bob@example.com')).toBe('/dev/sessions/[redacted]');
  });
});
