/**
 * The plain HTTP endpoints of the reference functional-test app (docs/protocol.md#conformance),
 * outside the hubs: CORS, negotiate cookies, the negotiate redirect, the failing
 * negotiate, the HTTP redirect to `/echo`, the token endpoint, the client-result endpoint and the
 * one static file the suite loads (the client's web-worker bundle).
 * @module
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';

/** What the routes need from the server they belong to. */
export interface EndpointContext {
  /** Issues a token for `user`. */
  issueToken(user: string): string;
  /** The next value of the redirect counter (1, 2, ...). */
  nextRedirect(): number;
  /**
   * Invokes client method `Result` on a TestHub connection and resolves with the text to answer:
   * the result, or the error's message. Never rejects.
   */
  clientResult(connectionId: string): Promise<string>;
  /** What the node forwarded and received (`HubServer.forwarding()`), or undefined outside a cluster. */
  forwarding(): object | undefined;
}

/**
 * docs/protocol.md#cors, as the reference app does it for any origin: echo `Origin` with credentials, echo
 * the preflight's requested method and headers. Returns true when it answered an `OPTIONS`
 * preflight itself (204).
 */
export function applyCors(req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
    const method = req.headers['access-control-request-method'];
    if (method) res.setHeader('Access-Control-Allow-Methods', method);
    const headers = req.headers['access-control-request-headers'];
    if (headers) res.setHeader('Access-Control-Allow-Headers', headers);
  }
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { 'Content-Length': 0 });
    res.end();
    return true;
  }
  return false;
}

/** Whether a path is a negotiate request (the reference matches `/negotiate` anywhere in it). */
export function isNegotiatePath(pathname: string): boolean {
  return pathname.toLowerCase().includes('/negotiate');
}

/**
 * The cookies every negotiate response sets: two live ones and one already expired, which clients
 * must not send back. Over HTTPS (`secure`) they are `SameSite=None; Secure`, as the reference
 * sets them, so that a browser page on another origin (the browser half of the official suite)
 * keeps them and sends them back.
 */
export function negotiateCookies(now = Date.now(), secure = false): string[] {
  const expired = new Date(now - 3_600_000).toUTCString();
  const attributes = secure ? '; samesite=none; secure' : '';
  return [
    `testCookie=testValue; path=/${attributes}`,
    `testCookie2=testValue2; path=/${attributes}`,
    `expiredCookie=doesntmatter; expires=${expired}; path=/${attributes}`,
  ];
}

/** Whether `pathname` is `segment` or starts with `segment/`, ignoring case (StartsWithSegments). */
export function startsWithSegment(pathname: string, segment: string): boolean {
  const path = pathname.toLowerCase();
  return path === segment || path.startsWith(`${segment}/`);
}

/** `/echoredirect...` with every `echoredirect` replaced by `echo`, the query kept. */
export function echoRedirectLocation(url: URL): string {
  return url.pathname.replace(/echoredirect/gi, 'echo') + url.search;
}

/**
 * Serves the app's own routes; returns false for anything else. Hub requests must have been
 * offered to the hub server first (these paths never overlap with hub paths).
 */
export function serveConformanceRoute(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): boolean {
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (startsWithSegment(path, '/echoredirect')) {
    res.writeHead(307, { Location: echoRedirectLocation(url), 'Content-Length': 0 });
    res.end();
    return true;
  }
  if (startsWithSegment(path, '/redirect')) {
    const baseUrl = url.searchParams.get('baseUrl');
    if (!baseUrl) {
      sendText(res, 400, 'The baseUrl query parameter is required.');
      return true;
    }
    const body = JSON.stringify({ url: `${baseUrl}/testHub?numRedirects=${ctx.nextRedirect()}` });
    send(res, 200, 'application/json', body);
    return true;
  }
  if (startsWithSegment(path, '/bad-negotiate')) {
    sendText(res, 400, 'Some response from server');
    return true;
  }
  if (path.toLowerCase() === '/generatejwttoken' && (method === 'GET' || method === 'HEAD')) {
    sendText(res, 200, ctx.issueToken(url.searchParams.get('user') || 'testuser'));
    return true;
  }
  if (path.toLowerCase() === WEB_WORKER_CLIENT_PATH && (method === 'GET' || method === 'HEAD')) {
    const script = webWorkerClient();
    if (!script) return false;
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Content-Length': script.length });
    res.end(method === 'HEAD' ? undefined : script);
    return true;
  }
  if (path.toLowerCase() === '/forwarding' && method === 'GET') {
    // Not in the reference app: this node's forwarding counters, for the cluster tests.
    send(res, 200, 'application/json', JSON.stringify(ctx.forwarding() ?? null));
    return true;
  }
  const clientResult = /^\/clientresult\/([^/]+)$/i.exec(path);
  if (clientResult && method === 'GET') {
    let connectionId: string;
    try {
      connectionId = decodeURIComponent(clientResult[1]!);
    } catch {
      return false;
    }
    // Answers 200 with the number or the error text, as the reference's minimal-API route does.
    void ctx.clientResult(connectionId).then(
      (text) => {
        if (!res.writableEnded && !res.destroyed) sendText(res, 200, text);
      },
      () => {
        if (!res.headersSent) sendText(res, 500, 'Internal Server Error');
      },
    );
    return true;
  }
  return false;
}

/**
 * Answers an upgrade no hub took: `/echoredirect...` gets its 307 (a WebSocket client that
 * follows redirects lands on `/echo`), anything else 404.
 */
export function refuseOtherUpgrade(req: IncomingMessage, socket: Duplex): void {
  let head = 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (startsWithSegment(url.pathname, '/echoredirect')) {
      const location = echoRedirectLocation(url).replace(/[\r\n]/g, '');
      head = `HTTP/1.1 307 Temporary Redirect\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
    }
  } catch {
    // an unparsable URL: 404
  }
  if (socket.writable) socket.end(head);
  else socket.destroy();
}

/**
 * Where the reference app's static files (its `wwwroot`) hold the official client's web-worker
 * bundle, which the suite's WebWorkers test loads with `importScripts`.
 */
export const WEB_WORKER_CLIENT_PATH = '/lib/signalr-webworker/signalr.js';

let workerScript: Buffer | null | undefined;

/**
 * The official client's web-worker bundle (`@microsoft/signalr/dist/webworker/signalr.js`) from
 * the installed package, read once; null when the package is not installed (then the path is a 404).
 */
export function webWorkerClient(): Buffer | null {
  if (workerScript === undefined) {
    try {
      const file = createRequire(import.meta.url).resolve('@microsoft/signalr/dist/webworker/signalr.js');
      workerScript = readFileSync(file);
    } catch {
      workerScript = null;
    }
  }
  return workerScript;
}

/** Ends `res` with a text/plain body. */
export function sendText(res: ServerResponse, status: number, body: string): void {
  send(res, status, 'text/plain; charset=utf-8', body);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': bytes.length });
  res.end(bytes);
}
