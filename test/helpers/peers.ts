import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  json?: any;
}

export type PeerHandler = (req: RecordedRequest, res: ServerResponse) => unknown;

/**
 * A real HTTP server on 127.0.0.1 standing in for a peer (the transcript host, Slack). Every request
 * is recorded; `route(path, handler)` decides the answer per path (default 404).
 */
export interface Peer {
  url: string;
  host: string;
  requests: RecordedRequest[];
  route(path: string, handler: PeerHandler): void;
  hits(path: string): RecordedRequest[];
  close(): Promise<void>;
}

export async function startPeer(fallback?: PeerHandler): Promise<Peer> {
  const routes = new Map<string, PeerHandler>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = body ? JSON.parse(body) : undefined;
      } catch {
        /* not JSON */
      }
      const recorded: RecordedRequest = { method: req.method!, url: req.url!, headers: req.headers, body, json };
      requests.push(recorded);
      const handler = routes.get(req.url!.split('?')[0]) ?? fallback ?? ((_r, s) => s.writeHead(404).end());
      void Promise.resolve(handler(recorded, res)).catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    route: (path, handler) => routes.set(path, handler),
    hits: (path) => requests.filter((r) => r.url.split('?')[0] === path),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** A Slack incoming-webhook stand-in: answers "ok" like Slack does. */
export async function startSlack(): Promise<Peer & { posts(): RecordedRequest[] }> {
  const peer = await startPeer();
  peer.route('/hooks/slack', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  return Object.assign(peer, { posts: () => peer.hits('/hooks/slack') });
}
