import { lookup as dnsLookup, LookupAddress, LookupOptions } from 'node:dns';
import http, { IncomingMessage } from 'node:http';
import https from 'node:https';
import { BlockList, isIP, Socket } from 'node:net';
import { getHeapStatistics } from 'node:v8';
import { MemoryBudget } from '../common/memory-budget.js';
import { unstorableJsonReason } from '../common/storable.js';

/**
 * Downloads an interview transcript from the URL a payload names. The URL comes from outside, so
 * every hop is checked against the policy below before any byte is sent (server-side request
 * forgery guard), and the response is bounded in time and size.
 *
 * Policy:
 * - TRANSCRIPT_ALLOWED_HOSTS set: only those hosts are fetched (`host` = any port, `host:port` =
 *   that port), over http or https, whatever they resolve to (loopback too, if listed).
 * - unset: only https, and only when every address the name resolves to is public. The check runs
 *   inside the socket's DNS lookup and again on the address the socket actually connected to, so a
 *   name that resolves differently between the check and the connect (DNS rebinding) cannot slip
 *   through. IP-literal hosts skip DNS, so they are checked before the request.
 * Redirects are followed by hand (at most MAX_REDIRECTS), each hop re-checked.
 */

export interface TranscriptClientOptions {
  timeoutMs: number;
  maxBytes: number;
  /** Lower-case `host` or `host:port` entries; empty = public https only. */
  allowedHosts: string[];
  /** The service's own port: its routes (admin, metrics, dev, health) are never fetched as transcripts. */
  servicePort?: number;
  /** The embedded mode's sample transcripts under DEV_TRANSCRIPTS_PATH are the one exception. */
  devTranscripts?: boolean;
  /** Heap that transcripts being parsed and stored may hold at once; default: a quarter of V8's heap limit. */
  memoryBudgetBytes?: number;
}

/**
 * Heap bytes one transcript byte costs while it is parsed and stored: the decoded string, the
 * parsed objects and the JSON text of the INSERT (a 10 MiB transcript measured ~37 MB of heap).
 */
export const HEAP_BYTES_PER_TRANSCRIPT_BYTE = 4;

/** A quarter of the heap V8 may grow to (the image caps it with --max-old-space-size). */
export function defaultTranscriptMemoryBudget(): number {
  return Math.floor(getHeapStatistics().heap_size_limit / 4);
}

export const MAX_REDIRECTS = 3;

/** `permanent`: no retry can fix it (4xx, refused host, not JSON, too large). Otherwise transient. */
export class TranscriptError extends Error {
  override name = 'TranscriptError';

  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Address classification

const V4_RANGES: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'private'], // carrier-grade NAT
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'], // cloud metadata lives here
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['192.88.99.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'], // includes 255.255.255.255
];
const V6_RANGES: Array<[string, number, string]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['100::', 64, 'reserved'], // discard
  ['2001::', 32, 'reserved'], // Teredo: tunnels to arbitrary IPv4
  ['2001:db8::', 32, 'reserved'],
  ['fc00::', 7, 'private'], // unique local (AWS metadata's IPv6 address is here)
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'private'], // deprecated site-local
  ['ff00::', 8, 'multicast'],
];
function compile(ranges: Array<[string, number, string]>, family: 'ipv4' | 'ipv6'): Array<[BlockList, string]> {
  return ranges.map(([net, prefix, reason]) => {
    const list = new BlockList();
    list.addSubnet(net, prefix, family);
    return [list, reason];
  });
}
const V4_LISTS = compile(V4_RANGES, 'ipv4');
const V6_LISTS = compile(V6_RANGES, 'ipv6');

function reasonFor(ip: string, family: 'ipv4' | 'ipv6'): string | undefined {
  return (family === 'ipv4' ? V4_LISTS : V6_LISTS).find(([list]) => list.check(ip, family))?.[1];
}

/** Parses an IPv6 address (any textual form, dotted-quad tail included) into 16 bytes. */
export function ipv6Bytes(ip: string): Uint8Array | undefined {
  let text = ip.split('%')[0]; // drop a zone id
  const bytes: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (dotted) {
    if (isIP(dotted[1]) !== 4) return undefined;
    tail = dotted[1].split('.').map(Number);
    text = text.slice(0, -dotted[1].length) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    const v = parseInt(g, 16);
    bytes.push(v >> 8, v & 0xff);
  }
  if (dotted) bytes.splice(12, 4, ...tail);
  return bytes.length === 16 ? Uint8Array.from(bytes) : undefined;
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any. */
function embeddedIpv4(b: Uint8Array): string | undefined {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const v4 = (at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12); // ::ffff:a.b.c.d
  if (zero(0, 12)) return v4(12); // ::a.b.c.d (deprecated "compatible"; also :: and ::1, handled before)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4(12); // 64:ff9b::/96
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2); // 2002::/16 (6to4)
  return undefined;
}

/**
 * Why an address must not be fetched from ('loopback', 'private', 'link-local', 'unspecified',
 * 'multicast', 'reserved', 'invalid'), or undefined for a public address.
 */
export function nonPublicReason(ip: string): string | undefined {
  const family = isIP(ip);
  if (family === 4) return reasonFor(ip, 'ipv4');
  if (family !== 6) return 'invalid';
  const bytes = ipv6Bytes(ip);
  if (!bytes) return 'invalid';
  const normal = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] << 8) | bytes[2 * i + 1]).toString(16)).join(':');
  const reason = reasonFor(normal, 'ipv6');
  if (reason) return reason;
  const v4 = embeddedIpv4(bytes);
  if (v4 !== undefined) return nonPublicReason(v4);
  return undefined;
}

export function isPublicAddress(ip: string): boolean {
  return nonPublicReason(ip) === undefined;
}

// ---------------------------------------------------------------------------------------------
// Policy

/** The URL's host as it appears in an allow-list entry: lower case, IPv6 without brackets. */
function hostOf(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

function effectivePort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

/** Whether an allow-list entry (`host` or `host:port`, IPv6 as `[::1]:8080`) matches the URL. */
export function matchesAllowedHost(url: URL, entry: string): boolean {
  const e = entry.trim().toLowerCase();
  const host = hostOf(url);
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(e);
  if (bracketed) return bracketed[1] === host && (bracketed[2] === undefined || bracketed[2] === effectivePort(url));
  if (isIP(e) === 6) return e === host; // bare IPv6, no port
  const colon = e.lastIndexOf(':');
  if (colon === -1) return e === host;
  return e.slice(0, colon) === host && e.slice(colon + 1) === effectivePort(url);
}

/** The embedded mode's sample transcripts (src/embedded/dev.controller.ts). */
export const DEV_TRANSCRIPTS_PATH = '/dev/transcripts/';

export type TranscriptPolicy = Pick<TranscriptClientOptions, 'allowedHosts' | 'servicePort' | 'devTranscripts'>;

/**
 * Whether a request to this address and port would reach this service itself: a loopback or
 * unspecified address (`localhost` included) on the service's port.
 */
function isServiceItself(host: string, port: string, policy: TranscriptPolicy): boolean {
  if (policy.servicePort === undefined || port !== String(policy.servicePort)) return false;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const reason = nonPublicReason(host);
  return reason === 'loopback' || reason === 'unspecified';
}

/** The service's own routes are never a transcript, but for the embedded mode's samples. */
function checkNotServiceItself(url: URL, host: string, port: string, policy: TranscriptPolicy): void {
  if (!isServiceItself(host, port, policy)) return;
  if (policy.devTranscripts && url.pathname.startsWith(DEV_TRANSCRIPTS_PATH)) return;
  throw new TranscriptError(`refused transcript URL: ${url.pathname.slice(0, 100)} is a route of this service`, true);
}

/**
 * Throws a permanent TranscriptError when the URL may not be fetched under the policy. Returns
 * whether addresses must still be checked at connect time (true without an allow-list).
 */
export function checkUrl(url: URL, policy: TranscriptPolicy): { checkAddresses: boolean } {
  const { allowedHosts } = policy;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TranscriptError(`refused transcript URL: scheme ${url.protocol} is not http(s)`, true);
  }
  if (url.username || url.password) throw new TranscriptError('refused transcript URL: credentials in the URL', true);
  if (allowedHosts.length > 0) {
    if (!allowedHosts.some((e) => matchesAllowedHost(url, e))) {
      throw new TranscriptError(`refused transcript URL: host ${url.host} is not in TRANSCRIPT_ALLOWED_HOSTS`, true);
    }
    checkNotServiceItself(url, hostOf(url), effectivePort(url), policy);
    return { checkAddresses: false };
  }
  if (url.protocol !== 'https:') throw new TranscriptError('refused transcript URL: only https is allowed', true);
  const host = hostOf(url);
  if (isIP(host) !== 0) {
    const reason = nonPublicReason(host);
    if (reason) throw new TranscriptError(`refused transcript URL: ${host} is a ${reason} address`, true);
  }
  return { checkAddresses: true };
}

class RefusedAddressError extends Error {
  override name = 'RefusedAddressError';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A dns.lookup that refuses names resolving to any non-public address. */
export function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const list = addresses;
    for (const a of list) {
      const reason = nonPublicReason(a.address);
      if (reason) return callback(new RefusedAddressError(`refused transcript URL: ${hostname} resolves to a ${reason} address`), []);
    }
    if (list.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    if (options.all) return callback(null, list);
    callback(null, list[0].address, list[0].family);
  });
}

// ---------------------------------------------------------------------------------------------
// Fetching

const GENERIC_TYPES = new Set(['text/plain', 'application/octet-stream', 'binary/octet-stream']);

function isAcceptableContentType(header: string | undefined): boolean {
  if (!header) return true;
  const type = header.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json') || GENERIC_TYPES.has(type);
}

function transientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Deeper transcripts are refused: jsonb's parser runs out of stack on deep nesting (real ones are a few levels). */
export const MAX_TRANSCRIPT_DEPTH = 64;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The transcript as it will be stored, or a permanent TranscriptError when it can never be: not UTF-8,
 * not a JSON object or array, or not storable in jsonb (NUL, lone surrogates, too deep). The message
 * never quotes the body: it ends up in last_error and in log lines.
 */
export function parseTranscript(body: Buffer): object {
  let parsed: unknown;
  try {
    parsed = JSON.parse(strictUtf8.decode(body));
  } catch (err) {
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    const why = err instanceof SyntaxError ? `invalid JSON${position ? ` at position ${position}` : ''}` : 'not valid UTF-8';
    throw new TranscriptError(`transcript is not a JSON document (${why})`, true);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new TranscriptError('transcript is not a JSON document (not an object or array)', true);
  const problem = unstorableJsonReason(parsed, MAX_TRANSCRIPT_DEPTH);
  if (problem) throw new TranscriptError(`transcript cannot be stored: it ${problem}`, true);
  return parsed;
}

interface Hop {
  status: number;
  location?: string;
  body?: Buffer;
}

export class TranscriptClient {
  /**
   * Parsed transcripts are large (up to ~4x TRANSCRIPT_MAX_BYTES each) and WORKER_CONCURRENCY jobs
   * may hold one each: parsing waits until the transcript's share fits, so a burst of large
   * transcripts slows down instead of running the heap out (a crash under a heap ceiling).
   */
  readonly memory: MemoryBudget;

  constructor(private readonly opts: TranscriptClientOptions) {
    this.memory = new MemoryBudget(opts.memoryBudgetBytes ?? defaultTranscriptMemoryBudget());
  }

  /**
   * Parses a downloaded transcript and runs `use` with it (storing it), once its share of the memory
   * budget is free; the share is held until `use` settles. Invalid JSON is a permanent TranscriptError.
   */
  async parse<T>(body: Buffer, use: (transcript: object) => Promise<T>): Promise<T> {
    return this.memory.run(body.length * HEAP_BYTES_PER_TRANSCRIPT_BYTE, async () => use(parseTranscript(body)));
  }

  /**
   * Downloads the transcript: the body of the last hop, redirects followed and each hop checked
   * against the policy. Throws TranscriptError (permanent or transient).
   */
  async download(rawUrl: string): Promise<Buffer> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new TranscriptError('refused transcript URL: not a valid URL', true);
    }
    const deadline = Date.now() + this.opts.timeoutMs;
    for (let redirects = 0; ; redirects++) {
      const { checkAddresses } = checkUrl(url, this.opts);
      const hop = await this.request(url, checkAddresses, deadline);
      if (hop.status >= 300 && hop.status < 400 && hop.location !== undefined) {
        if (redirects >= MAX_REDIRECTS) throw new TranscriptError(`transcript host redirected more than ${MAX_REDIRECTS} times`, true);
        try {
          url = new URL(hop.location, url);
        } catch {
          throw new TranscriptError('transcript host redirected to an invalid URL', true);
        }
        continue;
      }
      if (hop.status < 200 || hop.status >= 300) {
        throw new TranscriptError(`transcript host answered ${hop.status}`, !transientStatus(hop.status));
      }
      return hop.body!;
    }
  }

  private request(url: URL, checkAddresses: boolean, deadline: number): Promise<Hop> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.reject(new TranscriptError(`transcript download timed out after ${this.opts.timeoutMs} ms`, false));
    const maxBytes = this.opts.maxBytes;
    const lib = url.protocol === 'https:' ? https : http;

    return new Promise<Hop>((resolve, reject) => {
      let settled = false;
      const fail = (err: TranscriptError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new TranscriptError(`transcript download timed out after ${this.opts.timeoutMs} ms`, false)), remaining);

      const req = lib.request(url, {
        method: 'GET',
        headers: { accept: 'application/json', 'accept-encoding': 'identity', 'user-agent': 'interview-webhooks' },
        // A fresh connection per hop: a pooled socket could belong to another host's checks.
        agent: false,
        ...(checkAddresses ? { lookup: guardedLookup } : {}),
      });

      req.on('socket', (socket: Socket) => {
        socket.once('connect', () => {
          const addr = socket.remoteAddress;
          // Second line of defence: the address the socket actually connected to (a name may
          // resolve to anything, including this service when it is allow-listed).
          if (checkAddresses) {
            const reason = addr === undefined ? 'unknown' : nonPublicReason(addr);
            if (reason) return fail(new TranscriptError(`refused transcript URL: connected to a ${reason} address`, true));
          }
          try {
            if (addr !== undefined) checkNotServiceItself(url, addr, String(socket.remotePort), this.opts);
          } catch (err) {
            fail(err as TranscriptError);
          }
        });
      });

      req.on('error', (err: Error) => {
        if (err instanceof RefusedAddressError) return fail(new TranscriptError(err.message, true));
        const code = (err as NodeJS.ErrnoException).code;
        fail(new TranscriptError(`transcript download failed: ${code ?? err.message}`, false));
      });

      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          res.resume();
          settled = true;
          clearTimeout(timer);
          resolve({ status, location: res.headers.location });
          req.destroy();
          return;
        }
        if (status < 200 || status >= 300) {
          res.resume();
          settled = true;
          clearTimeout(timer);
          resolve({ status });
          req.destroy();
          return;
        }
        const encoding = res.headers['content-encoding']?.trim().toLowerCase();
        if (encoding && encoding !== 'identity') {
          return fail(new TranscriptError(`transcript host answered with content-encoding ${encoding.slice(0, 40)} despite accept-encoding: identity`, true));
        }
        if (!isAcceptableContentType(res.headers['content-type'])) {
          return fail(new TranscriptError(`transcript is not JSON (content-type ${res.headers['content-type']?.slice(0, 100)})`, true));
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          return fail(new TranscriptError(`transcript is larger than ${maxBytes} bytes`, true));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return fail(new TranscriptError(`transcript is larger than ${maxBytes} bytes`, true));
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status, body: Buffer.concat(chunks) });
        });
        res.on('error', (err) => fail(new TranscriptError(`transcript download failed: ${err.message}`, false)));
        res.on('aborted', () => fail(new TranscriptError('transcript download aborted by the host', false)));
      });
      req.end();
    });
  }
}
