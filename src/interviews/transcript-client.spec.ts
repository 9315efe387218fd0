import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { checkUrl, HEAP_BYTES_PER_TRANSCRIPT_BYTE, isPublicAddress, matchesAllowedHost, nonPublicReason, TranscriptClient, TranscriptError } from './transcript-client.js';

describe('address classification', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fd00:ec2::254', 'private'],
    ['fc00::1', 'private'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['0:0:0:0:0:ffff:10.0.0.1', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['2001:db8::1', 'reserved'],
    ['not-an-ip', 'invalid'],
    ['::ffff:1.2.3', 'invalid'],
  ])('refuses %s (%s)', (ip, reason) => {
    expect(nonPublicReason(ip)).toBe(reason);
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    'accepts the public address %s',
    (ip) => {
      expect(nonPublicReason(ip)).toBeUndefined();
    },
  );
});

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
    expect(refused('https://169.254.169.254/latest/meta-data')).toMatch(/link-local/);
    expect(refused('https://[::1]/t.json')).toMatch(/loopback/);
    expect(refused('https://[::ffff:127.0.0.1]/t.json')).toMatch(/loopback/);
    expect(refused('https://[fd00:ec2::254]/t.json')).toMatch(/private/);
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
    const own = (url: string, p: object = policy) => () => checkUrl(new URL(url), p as never);
    for (const url of ['http://127.0.0.1:3000/dev/sessions/x', 'http://localhost:3000/metrics', 'http://[::1]:3000/admin/events', 'http://127.0.0.1:3000/dev/transcripts/../sessions/x']) {
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
});

describe('TranscriptClient against a local host', () => {
  let server: Server;
  let base: string;
  let hits: string[];
  let handler: (req: IncomingMessage, res: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url!);
      handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => (hits = []));
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
    for (const [status, permanent] of [[404, true], [403, true], [500, false], [503, false], [408, false], [429, false]] as const) {
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
});
