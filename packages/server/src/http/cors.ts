/**
 * CORS from an allowlist, and the origin check on transport requests and WebSocket upgrades
 * (docs/protocol.md#cors). Browsers send credentials by default (`withCredentials: true`), so
 * an allowed origin is echoed, never `*`.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Which browser origins may use the hub endpoints from another site. */
export interface CorsOptions {
  /**
   * The allowed origins (`https://app.example.com`, compared without case and trailing slash), or
   * a predicate. The server's own origin (the `Origin` naming the request's `Host`) is always allowed.
   */
  origins: readonly string[] | ((origin: string) => boolean);
  /** Send `Access-Control-Allow-Credentials: true` (cookies, `withCredentials`). Default true. */
  credentials?: boolean;
  /**
   * Request headers a preflight may ask for besides the client's own (`X-Requested-With`,
   * `X-SignalR-User-Agent`, `Authorization`, `Content-Type`). Default: whatever the preflight asks.
   */
  allowedHeaders?: readonly string[];
  /** How long browsers may cache a preflight (`Access-Control-Max-Age`). Default: not sent. */
  maxAgeSeconds?: number;
}

/** The headers the official client sends that a preflight asks about (docs/protocol.md#cors). */
export const CLIENT_REQUEST_HEADERS = [
  'x-requested-with',
  'x-signalr-user-agent',
  'authorization',
  'content-type',
];

const METHODS = new Set(['GET', 'POST', 'DELETE']);

/** The text of a refusal: plain, no JSON, no echo of the origin. */
export const ORIGIN_NOT_ALLOWED = 'Origin not allowed.';

/** Applies a {@link CorsOptions} to requests on hub endpoints. */
export class CorsPolicy {
  private readonly list: Set<string> | undefined;
  private readonly predicate: ((origin: string) => boolean) | undefined;
  private readonly headers: Set<string> | undefined;

  constructor(
    private readonly options: CorsOptions | undefined,
    /** Whether a request whose Origin is not allowed is refused with 403 (default: when `cors` is set). */
    readonly checkOrigin: boolean,
  ) {
    const origins = options?.origins;
    if (typeof origins === 'function') this.predicate = origins;
    else if (origins) this.list = new Set(origins.map(normalizeOrigin));
    if (options?.allowedHeaders) {
      this.headers = new Set([
        ...CLIENT_REQUEST_HEADERS,
        ...options.allowedHeaders.map((h) => h.toLowerCase()),
      ]);
    }
  }

  /** Whether `origin` may use the endpoints: listed, accepted by the predicate, or the server's own. */
  isAllowed(origin: string, host: string | undefined): boolean {
    if (host && sameHost(origin, host)) return true;
    if (this.predicate) {
      try {
        return this.predicate(origin);
      } catch {
        return false;
      }
    }
    return this.list?.has(normalizeOrigin(origin)) ?? false;
  }

  /**
   * For a request that is not a preflight: adds the CORS headers when its origin is allowed.
   * Returns false when the request must be refused (an Origin the check does not allow).
   */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    const allowed = this.isAllowed(origin, req.headers.host);
    if (allowed && this.options) this.allowOrigin(res, origin);
    return allowed || !this.checkOrigin;
  }

  /** Whether an upgrade (which carries no CORS) may go on: no Origin, or an allowed one. */
  admitUpgrade(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    return !this.checkOrigin || origin === undefined || this.isAllowed(origin, req.headers.host);
  }

  /** Whether `req` is a CORS preflight this policy answers. */
  isPreflight(req: IncomingMessage): boolean {
    return (
      this.options !== undefined &&
      req.method === 'OPTIONS' &&
      req.headers.origin !== undefined &&
      req.headers['access-control-request-method'] !== undefined
    );
  }

  /** Answers a preflight: 204 with the allowances for an allowed origin, else 403. Returns whether allowed. */
  preflight(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin!;
    if (!this.isAllowed(origin, req.headers.host)) {
      const body = Buffer.from(ORIGIN_NOT_ALLOWED);
      res.writeHead(403, { 'Content-Type': 'text/plain', 'Content-Length': body.length, Vary: 'Origin' });
      res.end(body);
      return false;
    }
    this.allowOrigin(res, origin);
    const method = String(req.headers['access-control-request-method']).toUpperCase();
    res.setHeader('Access-Control-Allow-Methods', METHODS.has(method) ? method : 'GET, POST, DELETE');
    const requested = req.headers['access-control-request-headers'];
    if (requested) {
      const names = requested
        .split(',')
        .map((h) => h.trim())
        .filter((h) => h.length > 0 && (!this.headers || this.headers.has(h.toLowerCase())));
      if (names.length > 0) res.setHeader('Access-Control-Allow-Headers', names.join(', '));
    }
    if (this.options?.maxAgeSeconds !== undefined) {
      res.setHeader('Access-Control-Max-Age', String(Math.floor(this.options.maxAgeSeconds)));
    }
    res.writeHead(204, { 'Content-Length': 0 });
    res.end();
    return true;
  }

  private allowOrigin(res: ServerResponse, origin: string): void {
    res.setHeader('Access-Control-Allow-Origin', origin);
    if (this.options?.credentials !== false) res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
  }
}

function normalizeOrigin(origin: string): string {
  let o = origin.trim().toLowerCase();
  while (o.endsWith('/')) o = o.slice(0, -1);
  return o;
}

/** Whether the origin `scheme://host[:port]` names the request's own `Host`. */
function sameHost(origin: string, host: string): boolean {
  const at = origin.indexOf('://');
  if (at === -1) return false;
  return origin.slice(at + 3).toLowerCase() === host.toLowerCase();
}
