import axios, { type AxiosInstance, type CreateAxiosDefaults } from 'axios';
import ipaddr from 'ipaddr.js';
import { isIP, type Socket, type TcpNetConnectOpts } from 'node:net';
import type { Duplex } from 'node:stream';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

/**
 * The outbound HTTP stack (transcript downloads, Slack): axios on Node's http. A response arrives at
 * its headers with the body as a stream, whatever its status; nothing is decompressed and no
 * redirect is followed unless a call asks for it.
 */
export function createHttpClient(defaults: CreateAxiosDefaults = {}): AxiosInstance {
  return axios.create({
    adapter: 'http',
    // A proxy from the environment would connect on our behalf, past the agents' address checks.
    proxy: false,
    decompress: false,
    responseType: 'stream',
    validateStatus: null,
    maxRedirects: 0,
    ...defaults,
    headers: { 'user-agent': 'interview-webhooks', ...defaults.headers },
  });
}

const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

/**
 * Why an address is not public: the ipaddr.js range request-filtering-agent refuses (anything but
 * 'unicast'), 'ipv4Compatible' for ::a.b.c.d (deprecated, routed to IPv4 by some stacks; ipaddr.js
 * calls it unicast), or 'invalid'. Undefined for a public address.
 */
export function nonPublicRange(ip: string | undefined): string | undefined {
  if (ip === undefined || isIP(ip) === 0) return 'invalid';
  const address = ipaddr.parse(ip);
  const range = address.range();
  if (range !== 'unicast') return range;
  if (address.kind() === 'ipv6' && address.match(IPV4_COMPATIBLE)) return 'ipv4Compatible';
  return undefined;
}

export class RefusedAddressError extends Error {
  override name = 'RefusedAddressError';
}

export interface ConnectionGuard {
  /**
   * Only public addresses: request-filtering-agent refuses IP literals and names resolving to any
   * non-public address before connecting; the connected address is checked again here.
   */
  publicOnly: boolean;
  /** Runs once connected, before a byte of the request is written; throw to refuse. */
  onConnect?: (address: string | undefined, port: number | undefined) => void;
}

function watch(socket: Duplex, guard: ConnectionGuard): Duplex {
  // Registered before http writes the request (its write waits for this same event), so a
  // refusal here sends nothing.
  socket.once('connect', () => {
    const { remoteAddress, remotePort } = socket as Socket;
    try {
      const range = guard.publicOnly ? nonPublicRange(remoteAddress) : undefined;
      if (range) throw new RefusedAddressError(`connected to ${remoteAddress}, a ${range} address`);
      guard.onConnect?.(remoteAddress, remotePort);
    } catch (err) {
      socket.destroy(err as Error);
    }
  });
  return socket;
}

type ConnectionListener = (error: Error | null, socket: Duplex) => void;
const filterOptions = ({ publicOnly }: ConnectionGuard) => ({ allowPrivateIPAddress: !publicOnly, allowMetaIPAddress: !publicOnly });

class GuardedHttpAgent extends RequestFilteringHttpAgent {
  constructor(private readonly guard: ConnectionGuard) {
    super(filterOptions(guard));
  }

  override createConnection(options: TcpNetConnectOpts, listener?: ConnectionListener) {
    return watch(super.createConnection(options, listener), this.guard);
  }
}

class GuardedHttpsAgent extends RequestFilteringHttpsAgent {
  constructor(private readonly guard: ConnectionGuard) {
    super(filterOptions(guard));
  }

  override createConnection(options: TcpNetConnectOpts, listener?: ConnectionListener) {
    return watch(super.createConnection(options, listener), this.guard);
  }
}

/** Agents (no keep-alive: each request gets a fresh, freshly checked connection) for axios's httpAgent/httpsAgent. */
export function guardedAgents(guard: ConnectionGuard) {
  return { httpAgent: new GuardedHttpAgent(guard), httpsAgent: new GuardedHttpsAgent(guard) };
}

function* causes(err: unknown): Generator<unknown> {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) yield e;
}

/** The first error of this type in the chain axios and follow-redirects wrap errors in. */
export function findCause<T extends Error>(err: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  for (const e of causes(err)) if (e instanceof type) return e;
  return undefined;
}

// request-filtering-agent's refusal is a plain Error, told apart only by its message.
const AGENT_REFUSAL = /^DNS lookup (\S+)\(family:[^,]*, host:([^)]*)\) is not allowed/;

export interface HttpFailure {
  kind: 'refused-address' | 'body-too-large' | 'too-many-redirects' | 'bad-redirect' | 'network';
  detail: string;
}

/**
 * What went wrong, read from the errors axios, follow-redirects and request-filtering-agent raise:
 * their codes and messages are this file's one tie to their internals (http-client.spec.ts pins them).
 */
export function classifyHttpError(err: unknown): HttpFailure {
  const ours = findCause(err, RefusedAddressError);
  if (ours) return { kind: 'refused-address', detail: ours.message };
  for (const e of causes(err)) {
    const { code, message = '' } = e as { code?: string; message?: string };
    const refused = AGENT_REFUSAL.exec(message);
    if (refused) {
      const [, address, host] = refused;
      const range = nonPublicRange(address) ?? 'refused';
      return {
        kind: 'refused-address',
        detail: host === 'undefined' ? `${address} is a ${range} address` : `${host} resolves to a ${range} address (${address})`,
      };
    }
    if (code === 'ERR_FR_TOO_MANY_REDIRECTS') return { kind: 'too-many-redirects', detail: message };
    if (code === 'ERR_FR_REDIRECTION_FAILURE' || code === 'ERR_INVALID_URL') return { kind: 'bad-redirect', detail: message };
    if (code === 'ERR_BAD_RESPONSE' && message.startsWith('maxContentLength')) return { kind: 'body-too-large', detail: message };
  }
  const { code, message } = err as { code?: string; message?: string };
  return { kind: 'network', detail: code ?? message ?? String(err) };
}
