import { createServer as createHttpServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, createServer as createTcpServer } from 'node:net';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { classifyHttpError, createHttpClient, guardedAgents, nonPublicRange, RefusedAddressError } from './http-client.js';

// Every address the transcript guard refused before it used libraries, plus the special-purpose ranges it
// missed (IPv4 protocol assignments, documentation, benchmarking, 6to4 relay, 240/4; IPv6 discard,
// site-local, Teredo, IPv4-compatible).
const REFUSED: Array<[string, string]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.0.9', 'loopback'],
  ['10.1.2.3', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'carrierGradeNat'],
  ['169.254.169.254', 'linkLocal'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['224.0.0.1', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['192.88.99.1', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['198.51.100.1', 'reserved'],
  ['203.0.113.1', 'reserved'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['::', 'unspecified'],
  ['fe80::1', 'linkLocal'],
  ['fe80::1%eth0', 'linkLocal'],
  ['fd00:ec2::254', 'uniqueLocal'],
  ['fc00::1', 'uniqueLocal'],
  ['fec0::1', 'deprecatedSiteLocal'],
  ['ff02::1', 'multicast'],
  ['100::1', 'discard'],
  ['2001:db8::1', 'reserved'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
  ['::ffff:127.0.0.1', 'ipv4Mapped'],
  ['::ffff:7f00:1', 'ipv4Mapped'],
  ['::ffff:169.254.169.254', 'ipv4Mapped'],
  ['::ffff:a9fe:a9fe', 'ipv4Mapped'],
  ['0:0:0:0:0:ffff:10.0.0.1', 'ipv4Mapped'],
  ['64:ff9b::10.0.0.1', 'rfc6052'],
  ['64:ff9b::a00:1', 'rfc6052'],
  ['2002:7f00:1::', '6to4'],
  ['2002:a00:1::', '6to4'],
  // IPv4-compatible: ipaddr.js calls these unicast, so the connect-time check refuses them.
  ['::7f00:1', 'ipv4Compatible'],
  ['::a00:1', 'ipv4Compatible'],
];

describe('nonPublicRange', () => {
  it.each(REFUSED)('refuses %s (%s)', (ip, range) => {
    expect(nonPublicRange(ip)).toBe(range);
  });

  it.each(['not-an-ip', '::ffff:1.2.3', '0x7f.1', undefined])('refuses %s as invalid', (ip) => {
    expect(nonPublicRange(ip)).toBe('invalid');
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e'])(
    'accepts the public address %s',
    (ip) => {
      expect(nonPublicRange(ip)).toBeUndefined();
    },
  );

  // Stricter than the hand-written classifier was: request-filtering-agent refuses these forms
  // whatever IPv4 address they carry.
  it.each(['::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::'])('refuses %s, an IPv4-embedding form of a public address', (ip) => {
    expect(nonPublicRange(ip)).toBeDefined();
  });
});

describe('guarded agents', () => {
  it.each(REFUSED.filter(([, range]) => range !== 'ipv4Compatible'))(
    'request-filtering-agent refuses a name resolving to %s (%s) in its DNS lookup',
    async (ip) => {
      const { httpAgent } = guardedAgents({ publicOnly: true });
      const lookup = (_host: string, _options: object, cb: (err: null, address: string, family: number) => void) =>
        setImmediate(() => cb(null, ip, ip.includes(':') ? 6 : 4));
      const socket = httpAgent.createConnection({ host: 'transcripts.test', port: 9, lookup, autoSelectFamily: false });
      const error = await new Promise<Error | null>((resolve) => {
        socket.once('error', resolve);
        socket.once('lookup', (err: Error | null) => {
          if (err) return;
          // Should the library ever let it through, no connection is attempted.
          socket.destroy();
          resolve(null);
        });
      });
      expect(error).not.toBeNull();
      expect(classifyHttpError(error)).toEqual({
        kind: 'refused-address',
        detail: `transcripts.test resolves to a ${nonPublicRange(ip)} address (${ip})`,
      });
    },
  );

  describe('on a local TCP server', () => {
    let server: ReturnType<typeof createTcpServer>;
    let port: number;
    let connections: number;
    let received: string;

    beforeAll(async () => {
      server = createTcpServer((socket) => {
        connections++;
        socket.on('data', (chunk) => (received += chunk.toString('latin1')));
        socket.on('error', () => undefined);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    beforeEach(() => {
      connections = 0;
      received = '';
    });
    afterAll(() => new Promise((r) => server.close(r)));

    const settle = () => new Promise((r) => setTimeout(r, 50));

    it('refuses a loopback IP literal in public-only mode without connecting', async () => {
      const { httpAgent } = guardedAgents({ publicOnly: true });
      const err = await createHttpClient()
        .get(`http://127.0.0.1:${port}/t`, { httpAgent })
        .catch((e: unknown) => e);
      await settle();
      expect(classifyHttpError(err)).toEqual({ kind: 'refused-address', detail: '127.0.0.1 is a loopback address' });
      expect(connections).toBe(0);
    });

    it.each(['http', 'https'])(
      'over %s, lets onConnect see the connected address and refuse before the request is written',
      async (scheme) => {
        const seen: Array<[string | undefined, number | undefined]> = [];
        const agents = guardedAgents({
          publicOnly: false,
          onConnect: (address, p) => {
            seen.push([address, p]);
            throw new RefusedAddressError('not this one');
          },
        });
        const err = await createHttpClient()
          .get(`${scheme}://127.0.0.1:${port}/t`, agents)
          .catch((e: unknown) => e);
        await settle();
        expect(seen).toEqual([['127.0.0.1', port]]);
        expect(classifyHttpError(err)).toEqual({ kind: 'refused-address', detail: 'not this one' });
        expect(connections).toBe(1);
        // https has sent its TLS ClientHello by then; no request line goes out either way.
        expect(received).not.toMatch(/GET/);
        if (scheme === 'http') expect(received).toBe('');
      },
    );
  });
});

describe('createHttpClient', () => {
  let server: Server;
  let base: string;
  let hits: string[];
  let handler: (req: IncomingMessage, res: ServerResponse) => void;

  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      hits.push(req.url!);
      handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => (hits = []));
  afterAll(() => new Promise((r) => server.close(r)));

  it('answers at the headers with any status, and follows no redirect unless asked', async () => {
    handler = (_req, res) => res.writeHead(302, { location: '/next' }).end();
    const res = await createHttpClient().get<Readable>(`${base}/first`);
    res.data.destroy();
    expect(res.status).toBe(302);
    expect(hits).toEqual(['/first']);
  });

  it('hands over an encoded body as it came, undecoded', async () => {
    const gz = gzipSync('{"a":1}');
    handler = (_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(gz);
    const res = await createHttpClient().get<Readable>(`${base}/gz`);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(await buffer(res.data)).toEqual(gz);
  });

  it('ignores a proxy from the environment', async () => {
    const proxied: string[] = [];
    const proxy = createHttpServer((req, res) => {
      proxied.push(req.url!);
      res.writeHead(502).end();
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const saved = {
      HTTP_PROXY: process.env.HTTP_PROXY,
      http_proxy: process.env.http_proxy,
      NO_PROXY: process.env.NO_PROXY,
      no_proxy: process.env.no_proxy,
    };
    process.env.HTTP_PROXY = process.env.http_proxy = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    delete process.env.NO_PROXY;
    delete process.env.no_proxy;
    try {
      handler = (_req, res) => res.writeHead(200).end('direct');
      const res = await createHttpClient().get<Readable>(`${base}/direct`);
      expect([res.status, (await buffer(res.data)).toString()]).toEqual([200, 'direct']);
      expect(proxied).toEqual([]);
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      await new Promise((r) => proxy.close(r));
    }
  });

  it('classifies the limits axios and follow-redirects enforce', async () => {
    handler = (req, res) => res.writeHead(302, { location: `${req.url}x` }).end();
    const redirects = await createHttpClient()
      .get(`${base}/r`, { maxRedirects: 2 })
      .catch((e: unknown) => e);
    expect(classifyHttpError(redirects).kind).toBe('too-many-redirects');
    expect(hits).toEqual(['/r', '/rx', '/rxx']);

    handler = (_req, res) => res.writeHead(200).end('x'.repeat(100));
    const res = await createHttpClient().get<Readable>(`${base}/big`, { maxContentLength: 10 });
    expect(classifyHttpError(await buffer(res.data).catch((e: unknown) => e)).kind).toBe('body-too-large');

    handler = (_req, res) => res.writeHead(302, { location: 'http://[::1' }).end();
    expect(
      classifyHttpError(
        await createHttpClient()
          .get(`${base}/bad`, { maxRedirects: 2 })
          .catch((e: unknown) => e),
      ).kind,
    ).toBe('bad-redirect');

    const closed = createHttpServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(
      classifyHttpError(
        await createHttpClient()
          .get(`http://127.0.0.1:${port}/`)
          .catch((e: unknown) => e),
      ),
    ).toEqual({ kind: 'network', detail: 'ECONNREFUSED' });
  });
});
