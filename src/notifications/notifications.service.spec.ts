import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { PermanentFailure, RetryLaterError } from '../events/event-handler.js';
import { interviewCompletedMessage } from './slack-message.js';

// The metrics module pulls in the Prometheus integration (CommonJS requiring Nest's ES modules).
jest.unstable_mockModule('./notifications.metrics.js', () => ({ NotificationMetrics: class {} }));
const { NotificationsService } = await import('./notifications.service.js');

/** The Slack POST against a local stand-in for Slack; the notifications table is a stub. */
describe('NotificationsService: the Slack POST', () => {
  let server: Server;
  let base: string;
  let posts: Array<{ url: string; headers: IncomingMessage['headers']; body: string }>;
  let handler: (req: IncomingMessage, res: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        posts.push({ url: req.url!, headers: req.headers, body });
        handler(req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    posts = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const notice = {
    sessionId: 's-1',
    participantEmail: 'ada@example.com',
    durationMinutes: 12,
    completedAt: new Date('2026-11-27T10:00:00Z'),
  };
  const service = (webhookUrl = `${base}/hooks/slack`, timeoutMs = 2000) => {
    const repo = { query: async () => [{ previous: null }], update: async () => ({}), findOneBy: async () => null };
    const config = { get: () => ({ webhookUrl, timeoutMs }) };
    const metrics = { record: () => undefined };
    const statements = { query: async () => ({ rows: [] }) };
    return new NotificationsService(repo as never, statements as never, config as never, metrics as never);
  };
  const failure = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected a failure');
  };

  it('posts the message as JSON and reports it sent on 2xx', async () => {
    handler = (_req, res) => res.writeHead(200).end('ok');
    await expect(service().notifyInterviewCompleted(notice)).resolves.toBe('sent');
    expect(posts).toHaveLength(1);
    expect(posts[0].url).toBe('/hooks/slack');
    expect(posts[0].headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(posts[0].body)).toEqual(JSON.parse(JSON.stringify(interviewCompletedMessage(notice))));
  });

  it('classifies statuses: 429 retry later (Retry-After), 408 and 5xx transient, other 4xx permanent', async () => {
    handler = (_req, res) => res.writeHead(429, { 'retry-after': '7' }).end();
    const limited = await failure(service().notifyInterviewCompleted(notice));
    expect(limited).toBeInstanceOf(RetryLaterError);
    expect((limited as RetryLaterError).retryAfterMs).toBe(7000);
    for (const [status, type] of [
      [503, Error],
      [500, Error],
      [408, Error],
      [404, PermanentFailure],
      [400, PermanentFailure],
    ] as const) {
      handler = (_req, res) => res.writeHead(status).end('no');
      const err = await failure(service().notifyInterviewCompleted(notice));
      expect([status, err.constructor, err.message]).toEqual([status, type, `slack: answered ${status}`]);
    }
  });

  it('never follows a redirect', async () => {
    handler = (req, res) =>
      req.url === '/hooks/slack' ? res.writeHead(302, { location: '/elsewhere' }).end() : res.writeHead(200).end('ok');
    const err = await failure(service().notifyInterviewCompleted(notice));
    expect([err.constructor, err.message]).toEqual([PermanentFailure, 'slack: answered 302']);
    expect(posts.map((p) => p.url)).toEqual(['/hooks/slack']);
  });

  it('gives up on a Slack that does not answer within SLACK_TIMEOUT_MS, or whose body never ends', async () => {
    handler = () => undefined;
    const started = Date.now();
    expect((await failure(service(undefined, 200).notifyInterviewCompleted(notice))).message).toBe('slack: no answer within 200 ms');
    expect(Date.now() - started).toBeLessThan(1500);
    handler = (_req, res) => res.writeHead(200).write('o'); // never ends: the answer counts, as before
    await expect(service(undefined, 200).notifyInterviewCompleted(notice)).resolves.toBe('sent');
  });

  it('describes a connection error by its code', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect((await failure(service(`http://127.0.0.1:${port}/hooks/slack`).notifyInterviewCompleted(notice))).message).toBe(
      'slack: ECONNREFUSED',
    );
  });
});
