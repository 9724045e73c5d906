/**
 * Cross-origin rules (`ALLOWED_ORIGINS`): requests without an Origin (native clients) or from the
 * server's own origin pass; browsers from a listed origin (or any, with `*`) get CORS headers;
 * WebSocket upgrades from other origins are refused, since a browser would let any page open them.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HubServerOptions } from '@switchboard/server';

/**
 * The same rules for the hub endpoints, which the hub server serves itself: CORS for the listed
 * origins (any with `*`), and negotiates, transport requests and WebSocket upgrades from any other
 * site refused (403); requests without an Origin and from the server's own origin pass.
 */
export function hubOrigins(allowed: readonly string[]): Pick<HubServerOptions, 'cors' | 'checkOrigin'> {
  if (allowed.length === 0) return { checkOrigin: true };
  return { cors: { origins: allowed.includes('*') ? () => true : allowed }, checkOrigin: true };
}

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
