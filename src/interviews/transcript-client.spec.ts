import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { HEAP_BYTES_PER_TRANSCRIPT_BYTE, TranscriptClient, TranscriptError } from './transcript-client.js';
import { checkNotServiceItself, checkUrl, matchesAllowedHost } from './transcript-policy.js';

describe('URL policy', () => {
  const refused = (url: string, allowed: string[] = []) => {
    try {
      checkUrl(new URL(url), { allowedHosts: allowed });
    } catch (err) {
      expect(err).toBeInstanceOf(TranscriptError);
      expect((err as TranscriptError).permanent).toBe(true);
      return (err as Error).message;
    }
    throw new Error(`${url} was not refused`);
  };

  it('without an allow-list fetches only https to public addresses', () => {
    expect(checkUrl(new URL('https://transcripts.example.com/t/1.json'), { allowedHosts: [] })).toEqual({ checkAddresses: true });
    expect(checkUrl(new URL('https://8.8.8.8/t.json'), { allowedHosts: [] })).toEqual({ checkAddresses: true });
    expect(refused('http://transcripts.example.com/t.json')).toMatch(/only https/);
    expect(refused('https://127.0.0.1/t.json')).toMatch(/loopback/);
    expect(refused('https://169.254.169.254/latest/meta-data')).toMatch(/linkLocal/);
    expect(refused('https://[::1]/t.json')).toMatch(/loopback/);
    expect(refused('https://[::ffff:127.0.0.1]/t.json')).toMatch(/ipv4Mapped/);
    expect(refused('https://[fd00:ec2::254]/t.json')).toMatch(/uniqueLocal/);
    // The URL parser normalises odd IPv4 spellings before the check sees them.
    expect(refused('https://2130706433/t.json')).toMatch(/loopback/);
    expect(refused('https://0x7f.1/t.json')).toMatch(/loopback/);
    expect(refused('https://0/t.json')).toMatch(/unspecified/);
    expect(refused('https://user:pw@example.com/t.json')).toMatch(/credentials/);
    expect(refused('ftp://example.com/t.json')).toMatch(/scheme/);
  });

  it('with an allow-list fetches only listed hosts, loopback included when listed', () => {
    expect(checkUrl(new URL('http://127.0.0.1:8080/t.json'), { allowedHosts: ['127.0.0.1:8080'] })).toEqual({ checkAddresses: false });
    expect(refused('http://127.0.0.1:8081/t.json', ['127.0.0.1:8080'])).toMatch(/TRANSCRIPT_ALLOWED_HOSTS/);
    expect(refused('https://evil.example.com/t.json', ['transcripts.example.com'])).toMatch(/not in TRANSCRIPT_ALLOWED_HOSTS/);
    expect(refused('https://127.0.0.1/t.json', ['transcripts.example.com'])).toMatch(/not in/);
  });

  it("never fetches the service's own routes, even when its port is allow-listed; the embedded mode's samples excepted", () => {
    const policy = { allowedHosts: ['127.0.0.1:3000', 'localhost:3000', '[::1]:3000'], servicePort: 3000, devTranscripts: true };
    const own =
      (url: string, p: object = policy) =>
      () =>
        checkUrl(new URL(url), p as never);
    for (const url of [
      'http://127.0.0.1:3000/dev/sessions/x',
      'http://localhost:3000/metrics',
      'http://[::1]:3000/admin/events',
      'http://127.0.0.1:3000/dev/transcripts/../sessions/x',
    ]) {
      expect(own(url)).toThrow(/route of this service/);
    }
    expect(own('http://127.0.0.1:3000/dev/transcripts/s1')()).toEqual({ checkAddresses: false });
    expect(own('http://127.0.0.1:3000/dev/transcripts/s1', { ...policy, devTranscripts: false })).toThrow(/route of this service/);
    expect(own('http://127.0.0.1:4000/anything', { ...policy, allowedHosts: ['127.0.0.1:4000'] })()).toEqual({ checkAddresses: false });
  });

  it('matches host and host:port entries', () => {
    const u = (s: string) => new URL(s);
    expect(matchesAllowedHost(u('https://a.example.com/x'), 'a.example.com')).toBe(true);
    expect(matchesAllowedHost(u('https://a.example.com:8443/x'), 'a.example.com')).toBe(true);
    expect(matchesAllowedHost(u('https://A.EXAMPLE.com/x'), 'a.example.com:443')).toBe(true);
    expect(matchesAllowedHost(u('https://a.example.com:8443/x'), 'a.example.com:443')).toBe(false);
    expect(matchesAllowedHost(u('http://a.example.com/x'), 'a.example.com:80')).toBe(true);
    expect(matchesAllowedHost(u('https://b.a.example.com/x'), 'a.example.com')).toBe(false);
    expect(matchesAllowedHost(u('https://a.example.com.evil.io/x'), 'a.example.com')).toBe(false);
    expect(matchesAllowedHost(u('http://[::1]:9000/x'), '[::1]:9000')).toBe(true);
    expect(matchesAllowedHost(u('http://[::1]:9000/x'), '::1')).toBe(true);
    expect(matchesAllowedHost(u('http://[::1]:9001/x'), '[::1]:9000')).toBe(false);
  });

  it("refuses a connection that lands on the service's own port on a loopback or unspecified address", () => {
    const policy = { allowedHosts: ['transcripts.internal'], servicePort: 3000, devTranscripts: true };
    const connect =
      (address: string, port: string, path = '/metrics', p: object = policy) =>
      () =>
        checkNotServiceItself(new URL(`http://transcripts.internal:8080${path}`), address, port, p as never);
    for (const address of ['127.0.0.1', '127.0.1.1', '::1', '::ffff:127.0.0.1', '0.0.0.0', '::']) {
      expect(connect(address, '3000')).toThrow(/route of this service/);
    }
    expect(connect('127.0.0.1', '3000', '/dev/transcripts/s1')).not.toThrow();
    expect(connect('127.0.0.1', '3000', '/dev/transcripts/s1', { ...policy, devTranscripts: false })).toThrow(/route of this service/);
    expect(connect('127.0.0.1', '3001')).not.toThrow();
    expect(connect('10.0.0.5', '3000')).not.toThrow();
  });
});

describe('TranscriptClient against a local host', () => {
  let server: Server;
  let base: string;
  let hits: string[];
  let headers: IncomingMessage['headers'][];
  let handler: (req: IncomingMessage, res: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url!);
      headers.push(req.headers);
      handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    hits = [];
    headers = [];
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const client = (over: Partial<ConstructorParameters<typeof TranscriptClient>[0]> = {}) =>
    new TranscriptClient({ timeoutMs: 2000, maxBytes: 1024, allowedHosts: [new URL(base).host], ...over });
  /** Downloads and parses, as the interviews handler does. */
  const fetchVia = (c: TranscriptClient, url: string) => c.download(url).then((body) => c.parse(body, async (t) => t));
  const failure = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      expect(err).toBeInstanceOf(TranscriptError);
      return err as TranscriptError;
    }
    throw new Error('expected a TranscriptError');
  };

  it('downloads and parses a JSON transcript', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"lines":[{"speaker":"ai","text":"hi"}]}');
    await expect(fetchVia(client(), `${base}/t.json`)).resolves.toEqual({ lines: [{ speaker: 'ai', text: 'hi' }] });
  });

  it('never contacts a loopback host without an allow-list', async () => {
    handler = (_req, res) => res.end('{}');
    const err = await failure(fetchVia(client({ allowedHosts: [] }), `${base}/t.json`));
    expect(err.permanent).toBe(true);
    expect(hits).toEqual([]);
  });

  it('refuses a name that resolves to loopback (checked in the lookup), without contacting it', async () => {
    handler = (_req, res) => res.end('{}');
    // https is required without an allow-list; the lookup refuses before any connection is made.
    const port = new URL(base).port;
    const err = await failure(fetchVia(client({ allowedHosts: [] }), `https://localhost:${port}/t.json`));
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(/resolves to a loopback address/);
    expect(hits).toEqual([]);
  });

  it('follows a redirect within the allow-list and refuses one that leaves it', async () => {
    handler = (req, res) => {
      if (req.url === '/a') return res.writeHead(302, { location: '/b' }).end();
      if (req.url === '/b') return res.writeHead(200, { 'content-type': 'application/json' }).end('[1]');
      if (req.url === '/out') return res.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data' }).end();
      res.writeHead(404).end();
    };
    await expect(fetchVia(client(), `${base}/a`)).resolves.toEqual([1]);
    const err = await failure(fetchVia(client(), `${base}/out`));
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(/not in TRANSCRIPT_ALLOWED_HOSTS/);
  });

  it('gives up after three redirects', async () => {
    handler = (req, res) => res.writeHead(302, { location: `/r${Number(req.url!.slice(2) || 0) + 1}` }).end();
    const err = await failure(fetchVia(client(), `${base}/r0`));
    expect(err.permanent).toBe(true);
    expect(hits).toHaveLength(4);
  });

  it('classifies statuses: 404 permanent; 500, 503, 408 and 429 transient', async () => {
    for (const [status, permanent] of [
      [404, true],
      [403, true],
      [500, false],
      [503, false],
      [408, false],
      [429, false],
    ] as const) {
      handler = (_req, res) => res.writeHead(status).end();
      const err = await failure(fetchVia(client(), `${base}/s`));
      expect([status, err.permanent]).toEqual([status, permanent]);
    }
  });

  it('aborts a body over the size cap, declared or streamed', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pad: 'x'.repeat(2000) }));
    expect((await failure(fetchVia(client(), `${base}/big`))).message).toMatch(/larger than 1024/);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('["' + 'x'.repeat(800));
      res.write('x'.repeat(800));
      res.end('"]');
    };
    const err = await failure(fetchVia(client(), `${base}/chunked`));
    expect([err.permanent, err.message]).toEqual([true, expect.stringMatching(/larger than/)]);
  });

  it('times out a host that never answers (transient)', async () => {
    handler = () => undefined; // never answers
    const started = Date.now();
    const err = await failure(fetchVia(client({ timeoutMs: 200 }), `${base}/hang`));
    expect(err.permanent).toBe(false);
    expect(err.message).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('refuses non-JSON bodies and content types permanently', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{not json');
    expect((await failure(fetchVia(client(), `${base}/bad`))).permanent).toBe(true);
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>');
    expect((await failure(fetchVia(client(), `${base}/html`))).message).toMatch(/not JSON/);
  });

  it('parses a transcript only once its share of the memory budget is free, and holds it while stored', async () => {
    const body = JSON.stringify({ lines: ['x'.repeat(200)] });
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    // Room for one such transcript at a time (HEAP_BYTES_PER_TRANSCRIPT_BYTE per byte).
    const c = client({ memoryBudgetBytes: Buffer.byteLength(body) * HEAP_BYTES_PER_TRANSCRIPT_BYTE });
    const [first, second] = await Promise.all([c.download(`${base}/1`), c.download(`${base}/2`)]);
    const order: string[] = [];
    let storeFirst!: () => void;
    const one = c.parse(first, (t) => {
      order.push('first parsed');
      expect(t).toEqual({ lines: ['x'.repeat(200)] });
      return new Promise<void>((r) => (storeFirst = r)).then(() => order.push('first stored'));
    });
    const two = c.parse(second, async () => order.push('second parsed'));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['first parsed']);
    storeFirst();
    await Promise.all([one, two]);
    expect(order).toEqual(['first parsed', 'first stored', 'second parsed']);
    expect(c.memory.reserved).toBe(0);
  });

  it('treats a refused connection as transient', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await failure(fetchVia(client({ allowedHosts: [`127.0.0.1:${port}`] }), `http://127.0.0.1:${port}/t`));
    expect(err.permanent).toBe(false);
  });

  it('treats a host that cuts the connection mid-body as transient', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).write('[1,');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const err = await failure(fetchVia(client(), `${base}/cut`));
    expect([err.permanent, err.message]).toEqual([false, expect.stringMatching(/^transcript download failed: /)]);
  });

  it('asks for the identity encoding and refuses an encoded body permanently, without decoding it', async () => {
    handler = (_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync('{"a":1}'));
    const err = await failure(fetchVia(client(), `${base}/gz`));
    expect([err.permanent, err.message]).toEqual([true, expect.stringMatching(/content-encoding gzip despite accept-encoding: identity/)]);
    expect(headers[0]['accept-encoding']).toBe('identity');
  });

  it('refuses a declared content-length over the cap without waiting for the body', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' }).write('['); // and nothing more
    const started = Date.now();
    const err = await failure(fetchVia(client({ timeoutMs: 5000 }), `${base}/declared`));
    expect([err.permanent, err.message]).toEqual([true, 'transcript is larger than 1024 bytes']);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('bounds the whole download by one deadline: slow redirects, and a body that never ends', async () => {
    handler = (req, res) => setTimeout(() => res.writeHead(302, { location: `${req.url}x` }).end(), 120);
    let started = Date.now();
    let err = await failure(fetchVia(client({ timeoutMs: 300 }), `${base}/slow`));
    expect([err.permanent, err.message]).toEqual([false, 'transcript download timed out after 300 ms']);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(hits.length).toBeLessThan(4);

    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).write('[');
      const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write(' ')), 20);
    };
    started = Date.now();
    err = await failure(fetchVia(client({ timeoutMs: 300 }), `${base}/drip`));
    expect([err.permanent, err.message]).toEqual([false, 'transcript download timed out after 300 ms']);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('refuses a redirect to credentials, another scheme or an invalid URL, without following it', async () => {
    const port = new URL(base).port;
    const targets: Record<string, [string, RegExp]> = {
      '/cred': [`http://user:pw@127.0.0.1:${port}/x`, /credentials/],
      '/ftp': [`ftp://127.0.0.1:${port}/x`, /scheme ftp:/],
      '/invalid': ['http://[::1', /invalid URL/],
    };
    handler = (req, res) =>
      targets[req.url!] ? res.writeHead(302, { location: targets[req.url!][0] }).end() : res.writeHead(200).end('{}');
    for (const [path, [, reason]] of Object.entries(targets)) {
      const err = await failure(fetchVia(client(), `${base}${path}`));
      expect([path, err.permanent, err.message]).toEqual([path, true, expect.stringMatching(reason)]);
    }
    expect(hits).toEqual(Object.keys(targets));
  });

  it("checks every redirect against the service's own routes: only its sample transcripts may be fetched", async () => {
    const own = { servicePort: Number(new URL(base).port), devTranscripts: true };
    handler = (req, res) => {
      if (req.url === '/dev/transcripts/hop') return res.writeHead(302, { location: '/dev/transcripts/s1' }).end();
      if (req.url === '/dev/transcripts/leave') return res.writeHead(302, { location: '/metrics' }).end();
      if (req.url === '/dev/transcripts/s1') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"turns":[]}');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"stolen":true}');
    };
    await expect(fetchVia(client(own), `${base}/dev/transcripts/hop`)).resolves.toEqual({ turns: [] });
    const err = await failure(fetchVia(client(own), `${base}/dev/transcripts/leave`));
    expect([err.permanent, err.message]).toEqual([true, expect.stringMatching(/\/metrics is a route of this service/)]);
    expect(hits).toEqual(['/dev/transcripts/hop', '/dev/transcripts/s1', '/dev/transcripts/leave']);
  });
});
