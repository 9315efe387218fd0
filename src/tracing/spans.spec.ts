import { scrubText, spanContextOf, traceparentInTrace } from './spans.js';
import { scrubUrls } from './url-scrubber.js';

describe('traceparents', () => {
  it('reads a W3C traceparent, and nothing malformed or all-zero', () => {
    expect(spanContextOf('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
      isRemote: true,
    });
    expect(spanContextOf('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')?.traceFlags).toBe(0);
    expect(spanContextOf(undefined)).toBeUndefined();
    expect(spanContextOf('00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01')).toBeUndefined();
    expect(spanContextOf('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBeUndefined();
    expect(spanContextOf('00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01')).toBeUndefined();
  });

  it("continues an inbox row's trace under a parent id derived from its event id", () => {
    const tp = traceparentInTrace('4bf92f3577b34da6a3ce929d0e0e4736', '01a2472b-f4d4-7755-9ae0-34c108e50d22');
    expect(tp).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-9ae034c108e50d22-01');
    expect(traceparentInTrace(undefined, '01a2472b-f4d4-7755-9ae0-34c108e50d22')).toBeUndefined();
    expect(traceparentInTrace('not-a-trace-id', '01a2472b-f4d4-7755-9ae0-34c108e50d22')).toBeUndefined();
  });
});

describe('what spans may say', () => {
  it('cuts emails and URL queries out of error text', () => {
    expect(scrubText('GET https://files.example.com/t/1.json?token=abc failed for ada@example.com')).toBe(
      'GET https://files.example.com/t/1.json?[redacted] failed for [redacted]',
    );
  });

  it("keeps only the origin of an outgoing call's URL, and an incoming request's path without its query", () => {
    const span = (kind: number, attributes: Record<string, unknown>) => ({
      kind,
      attributes,
      setAttribute(k: string, v: string) {
        this.attributes[k] = v;
      },
    });
    const client = span(2, { 'url.full': 'https://hooks.slack.com/services/T0/B0/secret', 'url.path': '/services/T0/B0/secret' });
    scrubUrls(client);
    expect(client.attributes).toEqual({ 'url.full': 'https://hooks.slack.com/[redacted]', 'url.path': '[redacted]' });
    const server = span(1, { 'http.target': '/admin/console/events?session_id=s-1', 'url.path': '/admin/events/1', 'url.query': 'a=b' });
    scrubUrls(server);
    expect(server.attributes).toEqual({ 'http.target': '/admin/console/events', 'url.path': '/admin/events/1', 'url.query': '[redacted]' });
  });
});
