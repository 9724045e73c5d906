import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The flags every browser test starts Chromium with (no sandbox as root, no network chatter). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];

/** Starts Debian's Chromium through playwright-core; nothing is downloaded. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

const require = createRequire(import.meta.url);

function packageFile(pkg: string, relative: string): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), relative);
}

/** The official clients' browser bundles, as npm ships them, by the path a page loads them from. */
const assets: Record<string, { file: string; type: string }> = {
  '/lib/signalr.js': {
    file: packageFile('@microsoft/signalr', 'dist/browser/signalr.js'),
    type: 'text/javascript',
  },
  '/lib/signalr-protocol-msgpack.js': {
    file: packageFile('@microsoft/signalr-protocol-msgpack', 'dist/browser/signalr-protocol-msgpack.js'),
    type: 'text/javascript',
  },
};

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard browser test</title>
<script src="/lib/signalr.js"></script>
<script src="/lib/signalr-protocol-msgpack.js"></script>
</head><body><main>browser test page</main></body></html>`;

/**
 * A request listener serving a blank test page at `/` that loads both official client bundles
 * (`window.signalR`, `window.signalR.protocols.msgpack`) from `/lib/…`. Returns false for other
 * paths.
 */
export function serveBrowserAssets(req: IncomingMessage, res: ServerResponse): boolean {
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === '/' || path === '/index.html') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(PAGE);
    return true;
  }
  const asset = assets[path];
  if (!asset) return false;
  res.writeHead(200, { 'Content-Type': asset.type });
  res.end(readFileSync(asset.file));
  return true;
}
