/**
 * Cross-origin rules (`ALLOWED_ORIGINS`): requests without an Origin (native clients) or from the
 * server's own origin pass; browsers from a listed origin (or any, with `*`) get CORS headers;
 * WebSocket upgrades from other origins are refused, since a browser would let any page open them.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Whether a request's Origin may talk to us. */
export function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  const host = req.headers.host;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/**
 * Adds CORS headers for an allowed cross-origin request; answers a preflight (OPTIONS) itself and
 * returns true then.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  const permitted = origin !== undefined && originAllowed(req, allowed);
  if (permitted) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
  }
  if (req.method !== 'OPTIONS' || !req.headers['access-control-request-method']) return false;
  if (permitted) {
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.setHeader(
      'Access-Control-Allow-Headers',
      String(req.headers['access-control-request-headers'] ?? 'authorization, content-type'),
    );
    res.setHeader('Access-Control-Max-Age', '600');
  }
  res.writeHead(permitted ? 204 : 403, { 'Content-Length': 0 });
  res.end();
  return true;
}
