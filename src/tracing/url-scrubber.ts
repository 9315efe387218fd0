import { scrubText } from './spans.js';

// Attributes of HTTP spans that hold a URL or part of one. Outgoing calls go to URLs that are
// secrets themselves (a Slack webhook's path, a signed transcript link): their spans keep only the
// origin. Incoming requests keep their path (routes and ids) without the query (filters).
const FULL_URL = ['url.full', 'http.url'];
const URL_PARTS = ['http.target', 'url.path', 'url.query'];
const SPAN_KIND_CLIENT = 2;

/** Cuts the URL attributes of an HTTP span as it ends, before any processor exports it. */
export function scrubUrls(span: { kind: number; attributes: Record<string, unknown>; setAttribute(k: string, v: string): unknown }): void {
  const client = span.kind === SPAN_KIND_CLIENT;
  for (const key of FULL_URL) {
    const value = span.attributes[key];
    if (typeof value !== 'string') continue;
    const origin = URL.canParse(value) ? new URL(value).origin : '[redacted]';
    span.setAttribute(key, client ? `${origin}/[redacted]` : scrubText(value));
  }
  for (const key of URL_PARTS) {
    const value = span.attributes[key];
    if (typeof value === 'string' && (client || key === 'url.query' || value.includes('?')))
      span.setAttribute(key, client || key === 'url.query' ? '[redacted]' : value.split('?')[0]);
  }
}
