/**
 * The chat server's web app handler over HTTP, without a browser: raw paths that try to leave the
 * web root, HEAD, client paths, and a server whose web app is not built (it starts, says how to
 * build, and its APIs answer as before).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_RETRY_DELAY_MS, retryDelay } from '../src/connection.ts';
import { startWebServer, type WebServer } from './helpers.ts';

/** A GET (or HEAD) with the path sent exactly as given (fetch would normalize it). */
function raw(
  url: string,
  path: string,
  method = 'GET',
): Promise<{ status: number; type: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the web app handler', () => {
  let root: string;
  let server: WebServer;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'sb-chat-web-root-'));
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(root, 'assets', 'app-abc123.css'), 'body{}');
    writeFileSync(join(root, 'robots.txt'), 'User-agent: *');
    server = await startWebServer(root);
  });
  after(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('paths that try to leave the web root get nothing from outside it', async () => {
    writeFileSync(join(root, '..', 'sb-secret.txt'), 'secret');
    try {
      for (const path of [
        '/../sb-secret.txt',
        '/..%2fsb-secret.txt',
        '/assets/..%2f..%2fsb-secret.txt',
        '/%2e%2e/sb-secret.txt',
        '/..%5csb-secret.txt',
        '/%00',
      ]) {
        const r = await raw(server.url, path);
        assert.ok(!r.body.includes('secret'), `${path}: ${r.status} ${r.body}`);
        assert.ok(r.status === 404 || (r.status === 200 && r.body.includes('<title>app</title>')), path);
      }
    } finally {
      rmSync(join(root, '..', 'sb-secret.txt'), { force: true });
    }
  });

  test('files with their types and caching, HEAD without a body, index.html for client paths', async () => {
    const css = await raw(server.url, '/assets/app-abc123.css');
    assert.equal(css.status, 200);
    assert.match(css.type, /^text\/css/);
    const txt = await raw(server.url, '/robots.txt');
    assert.match(txt.type, /^text\/plain/);
    const head = await raw(server.url, '/', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    const deep = await raw(server.url, '/rooms/abc?x=1');
    assert.equal(deep.body, '<!doctype html><title>app</title>');
    const post = await fetch(`${server.url}/somewhere`, { method: 'POST' });
    assert.equal(post.status, 404);
    assert.match(post.headers.get('content-type') ?? '', /json/);
  });

  test('without a built app the server starts, says how to build it, and its APIs still answer', async () => {
    const bare = await startWebServer(join(root, 'no-such-dist'));
    try {
      const page = await fetch(`${bare.url}/`);
      assert.equal(page.status, 503);
      assert.match(await page.text(), /npm run build/);
      const api = await fetch(`${bare.url}/api/nope`);
      assert.equal(api.status, 404);
      assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'SB_CHAT_NOT_FOUND');
      assert.equal((await fetch(`${bare.url}/healthz`)).status, 200);
    } finally {
      await bare.close();
    }
  });
});

test('the reconnect delay grows and is capped, and never runs out', () => {
  assert.equal(retryDelay(0), 0);
  assert.ok(retryDelay(1) >= 400 && retryDelay(1) <= 600);
  for (const attempt of [10, 100, 10_000]) {
    const delay = retryDelay(attempt);
    assert.ok(delay > 0 && delay <= MAX_RETRY_DELAY_MS * 1.2, `attempt ${attempt}: ${delay}`);
  }
});
