// The admin view in Chromium on a phone-sized screen, with TWO chat nodes (PostgreSQL storage, the
// Redis backplane): the admin signed in on node A follows the link only admins see, sees both
// nodes' rows, and sees node B's connections and users change, without asking again, when a
// second user signs in on node B. The view passes axe and does not scroll sideways at 375 px; a
// user sees no link and no view. Skips loudly without PostgreSQL or Redis (fails under CI=true).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { type ChatApp, createChatApp, loadConfig } from '@switchboard/chat-server';
import { silentLogger } from '@switchboard/server';
import { deleteRedisPrefix, launchChromium, requireService } from '@switchboard/testkit';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import {
  axeViolations,
  buildWebApp,
  createRoom,
  hasHorizontalScroll,
  signIn,
  uniqueName,
  type WatchedPage,
  watchedPage,
} from './helpers.ts';

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = `admh_web_${process.pid}_${Date.now()}`;
const prefix = `admh-web-${run}`;
const PHONE = { width: 375, height: 740 };

/** Registers a user through the API of `url` (password123); returns the username. */
async function register(url: string, base: string): Promise<string> {
  const username = uniqueName(base);
  const response = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: 'password123', displayName: base }),
  });
  assert.equal(response.status, 201, await response.text());
  return username;
}

/** The number shown in one field of a node's card. */
async function nodeField(page: Page, nodeId: string, field: string): Promise<number> {
  const text = await page
    .locator(`[data-testid="admin-node"][data-node-id="${nodeId}"] [data-testid="${field}"]`)
    .textContent();
  return Number((text ?? '').replace(/\D/g, ''));
}

test('admin view on two nodes: an admin on node A sees both nodes, live, as a user connects on node B', async (t) => {
  const db = new URL(DATABASE_URL);
  const redis = new URL(REDIS_URL);
  const services = [
    { kind: 'tcp' as const, name: 'PostgreSQL', host: db.hostname, port: Number(db.port || 5432) },
    { kind: 'tcp' as const, name: 'Redis', host: redis.hostname, port: Number(redis.port || 6379) },
  ];
  for (const service of services) if (!(await requireService(t, service))) return;
  let webRoot = '';
  const apps: ChatApp[] = [];
  const urls: string[] = [];
  let browser: Browser | undefined;
  const pages: WatchedPage[] = [];
  const phonePage = async (): Promise<WatchedPage> => {
    browser ??= await launchChromium();
    const watched = await watchedPage(await browser.newContext({ viewport: PHONE }));
    pages.push(watched);
    return watched;
  };
  try {
    webRoot = await buildWebApp();
    // One after the other: the first migrates the schema and keeps the JWT secret both use.
    for (const node of ['admh-web-a', 'admh-web-b']) {
      const config = loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL,
        DATABASE_SCHEMA: `admh_chat_${run}`,
        REDIS_URL,
        BACKPLANE_PREFIX: prefix,
        NODE_ID: node,
        PRESENCE_GRACE_MS: '300',
        BACKPLANE_LAG_PROBE_MS: '200',
        LOGIN_RATE_LIMIT: '1000',
        REGISTER_RATE_LIMIT: '100000',
      });
      const app = await createChatApp(config, { logger: silentLogger, drainTimeoutMs: 300, webRoot });
      apps.push(app);
      urls.push(await app.listen());
    }
    const [urlA, urlB] = urls as [string, string];
    const bossName = await register(urlA, 'admhboss');
    await apps[0]!.accounts.setRole(bossName, 'admin');
    const userName = await register(urlB, 'admhuser');

    const { page } = await phonePage();
    // What the page sends on its hub connection: the view asks once, then only listens.
    const sent: string[] = [];
    page.on('websocket', (ws) =>
      ws.on('framesent', (frame) =>
        sent.push(Buffer.from(frame.payload as string | Buffer).toString('latin1')),
      ),
    );
    page.on('request', (request) => {
      assert.ok(!request.url().includes('/api/v1/admin/stats'), 'the view does not poll the HTTP API');
    });
    await signIn(page, urlA, bossName);
    await page.getByTestId('admin-link').click();
    await page.getByTestId('admin-view').waitFor();
    const nodeA = page.locator('[data-testid="admin-node"][data-node-id="admh-web-a"]');
    const nodeB = page.locator('[data-testid="admin-node"][data-node-id="admh-web-b"]');
    await nodeA.waitFor({ timeout: 30_000 });
    await nodeB.waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('admin-node').count(), 2);
    await page.getByTestId('admin-rooms').waitFor();
    assert.ok(
      (await nodeField(page, 'admh-web-a', 'admin-node-websockets')) >= 1,
      "the admin's own connection",
    );
    assert.match((await nodeB.getByTestId('admin-node-backplane').textContent()) ?? '', /redis, ready/);
    assert.match((await nodeB.getByTestId('admin-node-webhooks').textContent()) ?? '', /not configured/);
    const before = await nodeField(page, 'admh-web-b', 'admin-node-connections');
    const usersBefore = await nodeField(page, 'admh-web-b', 'admin-node-users');

    // The view fits a phone and passes axe.
    assert.equal(await hasHorizontalScroll(page), false, 'no sideways scroll at 375 px');
    assert.deepEqual(await axeViolations(page), []);

    // A second user signs in on node B: node B's numbers change on the admin's screen.
    const other = await phonePage();
    await signIn(other.page, urlB, userName);
    await page.waitForFunction(
      ([n, u]) => {
        // No named functions in here: the test's transpiler would wrap them in a helper the page lacks.
        const card = document.querySelector('[data-testid="admin-node"][data-node-id="admh-web-b"]');
        const shown = ['admin-node-connections', 'admin-node-users'].map((id) =>
          Number((card?.querySelector(`[data-testid="${id}"]`)?.textContent ?? '').replace(/\D/g, '')),
        );
        return shown[0] === n && shown[1] === u;
      },
      [before + 1, usersBefore + 1],
      { timeout: 30_000 },
    );
    // The user creates a room on node B: its row appears with one member, online.
    const roomName = `admh room ${process.pid}`;
    await createRoom(other.page, roomName);
    const row = page.getByTestId('admin-rooms').getByTestId('admin-room').filter({ hasText: roomName });
    await row.waitFor({ timeout: 30_000 });
    await page.waitForFunction(
      (name) =>
        Array.from(document.querySelectorAll('[data-testid="admin-room"]')).some(
          (tr) =>
            tr.textContent?.includes(name) &&
            tr.querySelector('[data-testid="admin-room-members"]')?.textContent === '1' &&
            tr.querySelector('[data-testid="admin-room-online"]')?.textContent === '1',
        ),
      roomName,
      { timeout: 30_000 },
    );
    assert.equal(await hasHorizontalScroll(page), false, 'no sideways scroll with a room listed');

    const watches = sent.filter((frame) => frame.includes('watchAdminStats')).length;
    assert.equal(watches, 1, 'one watchAdminStats, then pushes only');

    // The user has no link, and the address shows them no admin view.
    assert.equal(await other.page.getByTestId('admin-link').count(), 0);
    await other.page.goto(`${urlB}/#/admin`);
    await other.page.getByTestId('room-list').waitFor();
    assert.equal(await other.page.getByTestId('admin-view').count(), 0);

    // Back to the conversations: the view stops watching (no more pushes are asked for).
    await page.getByRole('button', { name: 'Back to conversations' }).click();
    await page.getByTestId('admin-view').waitFor({ state: 'detached' });
    await page.waitForFunction(() => location.hash !== '#/admin');
  } finally {
    await browser?.close().catch(() => undefined);
    for (const app of apps.reverse()) await app.close();
    if (webRoot) rmSync(webRoot, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "admh_chat_${run}" CASCADE`);
    await client.end();
    await deleteRedisPrefix(REDIS_URL, prefix).catch(() => undefined);
  }
  for (const p of pages) assert.deepEqual(p.errors, [], 'console errors');
});
