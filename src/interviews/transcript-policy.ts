import ipaddr from 'ipaddr.js';
import { isIP } from 'node:net';
import { nonPublicRange } from '../common/http-client.js';

/**
 * Which transcript URLs may be fetched (server-side request forgery guard), checked on the URL a
 * payload names and again on every redirect:
 * - TRANSCRIPT_ALLOWED_HOSTS set: only those hosts (`host` = any port, `host:port` = that port), over
 *   http or https, whatever they resolve to (loopback too, if listed).
 * - unset: only https to public addresses. IP literals are checked here; names are checked on every
 *   address they resolve to, and on the connected address, by the guarded agents
 *   (src/common/http-client.ts), so a name that resolves differently later (DNS rebinding) cannot slip through.
 * - either way, never the service's own routes (admin, metrics, dev, health), but for the embedded
 *   mode's sample transcripts; checked on the URL and on the address:port actually connected to.
 */
export interface TranscriptPolicy {
  /** Lower-case `host` or `host:port` entries; empty = public https only. */
  allowedHosts: string[];
  /** The service's own port: its routes are never fetched as transcripts. */
  servicePort?: number;
  /** The embedded mode's sample transcripts under DEV_TRANSCRIPTS_PATH are the one exception. */
  devTranscripts?: boolean;
}

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

/** The embedded mode's sample transcripts (src/embedded/dev.controller.ts). */
export const DEV_TRANSCRIPTS_PATH = '/dev/transcripts/';

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

/** A loopback or unspecified address (`localhost` included, IPv4-mapped forms too) on the service's port. */
function isServiceItself(host: string | undefined, port: string, policy: TranscriptPolicy): boolean {
  if (host === undefined || policy.servicePort === undefined || port !== String(policy.servicePort)) return false;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 0) return false;
  const range = ipaddr.process(host).range();
  return range === 'loopback' || range === 'unspecified';
}

/** Throws unless the request to `url`, reaching `host:port`, may go to this service (only its sample transcripts may). */
export function checkNotServiceItself(url: URL, host: string | undefined, port: string, policy: TranscriptPolicy): void {
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
  const range = isIP(host) === 0 ? undefined : nonPublicRange(host);
  if (range) throw new TranscriptError(`refused transcript URL: ${host} is a ${range} address`, true);
  return { checkAddresses: true };
}
