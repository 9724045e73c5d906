/**
 * Shared by the widget's browser tests: a host page server on another origin (another host name
 * and port than the chat server) with pages the tests write, a `/chat-token` route answering an
 * HS256 host token for the user named by its cookie (`wdgh_user`, valid for `wdgh_ttl` seconds,
 * 600 by default), and token minting with jose.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import type { Frame, FrameLocator, Page } from 'playwright-core';

/** The host app's issuer and HS256 secret, as the chat server is configured with them. */
export const HOST_ISSUER = 'https://wdgh-host.example';
export const HOST_SECRET = 'wdgh-shared-secret-of-the-host-app-0123456789';

/** Mints a host token for `sub` (HS256), valid for `ttl`. */
export function hostToken(sub: string, name: string, ttl = '10m'): Promise<string> {
  return new SignJWT({ name, role: 'user' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuer(HOST_ISSUER)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(new TextEncoder().encode(HOST_SECRET));
}

/** The host page server. */
export interface HostServer {
  /** Its origin, `http://localhost:<port>` (the chat runs on 127.0.0.1: another site). */
  readonly origin: string;
  /** Pages by path; `/chat-token` is built in. */
  readonly pages: Map<string, string>;
  /** How many times `/chat-token` answered a token. */
  tokens: number;
  close(): Promise<void>;
}

/** Starts the host page server on a free port. */
export async function startHostServer(): Promise<HostServer> {
  const pages = new Map<string, string>();
  const state = { tokens: 0 };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/chat-token') {
      const cookie = /(?:^|;\s*)wdgh_user=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
      if (!cookie) {
        res.writeHead(401, { 'Content-Type': 'text/plain' }).end('signed out');
        return;
      }
      const sub = decodeURIComponent(cookie);
      const ttl = /(?:^|;\s*)wdgh_ttl=(\d+)/.exec(req.headers.cookie ?? '')?.[1] ?? '600';
      void hostToken(sub, `Wdgh ${sub}`, `${ttl}s`).then((token) => {
        state.tokens += 1;
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' }).end(token);
      });
      return;
    }
    const page = pages.get(path);
    if (page === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://localhost:${port}`,
    pages,
    get tokens() {
      return state.tokens;
    },
    set tokens(value: number) {
      state.tokens = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A host page: a title, some content of its own, and `body` (the widget's tag or a script). */
export function hostPage(body: string, head = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Wdgh host</title>${head}</head>
<body><main><h1 id="host-title">The host app</h1><p id="host-p">Host text</p></main>${body}</body></html>`;
}

/** The widget's frame as a locator. */
export function widgetFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe[name="switchboard-widget"]');
}

/** The widget's frame itself (for evaluating in it), once it has loaded. */
export async function widgetFrameHandle(page: Page): Promise<Frame> {
  for (;;) {
    const frame = page.frame({ name: 'switchboard-widget' });
    if (frame && frame.url().includes('/widget.html')) {
      await frame.waitForLoadState('load');
      return frame;
    }
    await page.waitForTimeout(50);
  }
}
