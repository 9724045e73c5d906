/**
 * Serves the built web app (`apps/chat-web/dist`) at `/`: files with their content types, long
 * cache lifetimes for Vite's hashed `/assets/*`, `index.html` for every other unknown non-API path
 * (client-side views), and no way out of the web root. API, hub and operations paths are left to
 * the router. When the app is not built, `/` says how to build it. Every answer carries a
 * Content-Security-Policy without inline script, `frame-ancestors` from `FRAME_ANCESTORS`,
 * `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`. The widget's frame
 * (`/widget.html`) may be framed by the origins of `ALLOWED_ORIGINS` (its own `frame-ancestors`), and
 * the widget's script (`/widget.js`, linked by host pages of other origins under that fixed name)
 * is served with CORS and a short cache lifetime.
 * @module
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the web app, relative to this package (src/ and dist/ alike). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../chat-web/dist', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Paths that belong to the server itself, never to the web app. */
const SERVER_PATHS = /^\/(api|hubs)(\/|$)|^\/(healthz|readyz|metrics)$/;

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard chat</title></head>
<body><main><h1>The web app is not built</h1>
<p>Run <code>npm run build</code> in the repository (or <code>npm run build -w @switchboard/chat-web</code>)
and reload this page. The chat's APIs and the hub at <code>/hubs/chat</code> work meanwhile.</p></main></body></html>`;

/**
 * The web app's Content-Security-Policy: its own scripts, styles, images (and `blob:` images: attachments fetched with the token) and connections only (no
 * inline script or style, no `eval`), no plugins, and framed only by `frameAncestors`.
 */
export function contentSecurityPolicy(frameAncestors: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors}`,
  ].join('; ');
}

/** Headers on every response of the web app. */
export function securityHeaders(frameAncestors: string): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(frameAncestors),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // For browsers without CSP frame-ancestors (it wins where both are known).
    ...(frameAncestors === "'none'" ? { 'X-Frame-Options': 'DENY' } : {}),
  };
}

/**
 * The `frame-ancestors` of the widget's frame: the server itself, the listed browser origins (any
 * with `*`), and what `FRAME_ANCESTORS` adds.
 */
export function widgetFrameAncestors(allowedOrigins: readonly string[], frameAncestors = "'none'"): string {
  if (allowedOrigins.includes('*')) return '*';
  const sources = new Set(["'self'", ...allowedOrigins]);
  for (const source of frameAncestors.split(/\s+/)) if (source && source !== "'none'") sources.add(source);
  return [...sources].join(' ');
}

/** A request listener for the web app: returns false when the request is not its to answer. */
export type StaticHandler = ((req: IncomingMessage, res: ServerResponse) => boolean) & {
  /** Whether the web root holds a built app (an `index.html`). */
  readonly built: boolean;
};

/**
 * Creates the web app's handler over a directory of built files.
 *
 * @example
 * ```ts
 * const web = serveWebApp(DEFAULT_WEB_ROOT);
 * http.on('request', (req, res) => web(req, res) || router.handle(req, res));
 * ```
 */
export function serveWebApp(
  webRoot: string = DEFAULT_WEB_ROOT,
  options: { frameAncestors?: string; widgetFrameAncestors?: string } = {},
): StaticHandler {
  const headers = securityHeaders(options.frameAncestors ?? "'none'");
  const widgetHeaders = securityHeaders(options.widgetFrameAncestors ?? options.frameAncestors ?? "'none'");
  const send = (
    res: ServerResponse,
    req: IncomingMessage,
    status: number,
    type: string,
    cache: string,
    body: string,
  ) => sendText(res, req, status, { ...headers, 'Content-Type': type, 'Cache-Control': cache }, body);
  const sendFile = (res: ServerResponse, req: IncomingMessage, file: string, cache: string) =>
    sendFileWith(res, req, file, { ...headers, 'Cache-Control': cache });
  const root = resolve(webRoot);
  const indexFile = join(root, 'index.html');
  const built = existsSync(indexFile);
  const handler = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return false;
    }
    if (SERVER_PATHS.test(path)) return false;
    if (!existsSync(indexFile)) {
      send(res, req, 503, 'text/html; charset=utf-8', 'no-store', NOT_BUILT);
      return true;
    }
    const file = resolve(root, `.${path}`);
    if (path.includes('\0') || (file !== root && !file.startsWith(root + sep))) {
      send(res, req, 404, 'text/plain; charset=utf-8', 'no-store', 'Not found.');
      return true;
    }
    if (path === '/widget.html' && isFile(file)) {
      sendFileWith(res, req, file, { ...widgetHeaders, 'Cache-Control': 'no-cache' });
      return true;
    }
    if (path === '/widget.js' && isFile(file)) {
      // Any page may load the script (it only builds the frame, which CSP and CORS guard).
      if (!res.hasHeader('Access-Control-Allow-Origin')) res.setHeader('Access-Control-Allow-Origin', '*');
      sendFileWith(res, req, file, {
        ...headers,
        'Cross-Origin-Resource-Policy': 'cross-origin',
        'Cache-Control': 'public, max-age=300, stale-while-revalidate=3600',
      });
      return true;
    }
    if (isFile(file)) {
      const hashed = path.startsWith('/assets/');
      sendFile(res, req, file, hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
      return true;
    }
    if (path.startsWith('/assets/')) {
      send(res, req, 404, 'text/plain; charset=utf-8', 'no-store', 'Not found.');
      return true;
    }
    sendFile(res, req, indexFile, 'no-cache');
    return true;
  };
  return Object.assign(handler, { built });
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function sendText(
  res: ServerResponse,
  req: IncomingMessage,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function sendFileWith(
  res: ServerResponse,
  req: IncomingMessage,
  file: string,
  headers: Record<string, string>,
): void {
  const size = statSync(file).size;
  res.writeHead(200, {
    ...headers,
    'Content-Type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': size,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
