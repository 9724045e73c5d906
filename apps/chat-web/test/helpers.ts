/**
 * Shared by the browser tests: the web app built once per test file (Vite, into a temporary
 * directory), a chat server on a free port serving it from a temporary SQLite data directory,
 * pages that record console errors and dialogs, and the steps a person takes in the UI.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { HubConnection } from '@microsoft/signalr';
import { type ChatApp, createChatApp, loadConfig } from '@switchboard/chat-server';
import { silentLogger } from '@switchboard/server';
import { connectClient, launchChromium } from '@switchboard/testkit';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { build } from 'vite';

const WEB_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Builds the web app into a temporary directory; returns the directory. */
export async function buildWebApp(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'sb-chat-web-'));
  await build({ root: WEB_ROOT, logLevel: 'silent', build: { outDir, emptyOutDir: true } });
  return outDir;
}

/** A chat server serving the built app. */
export interface WebServer {
  url: string;
  port: number;
  app: ChatApp;
  dataDir: string;
  /** Stops the server (clients are told to reconnect), keeping the data. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Makes a registered user an agent. */
  makeAgent(username: string): Promise<void>;
  close(): Promise<void>;
}

/** Starts a chat server on a free port (SQLite in a temporary directory) serving `webRoot`. */
export async function startWebServer(webRoot: string, env: Record<string, string> = {}): Promise<WebServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-chat-web-data-'));
  const open = async (port: number) => {
    const config = loadConfig({
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      PRESENCE_GRACE_MS: '300',
      LOGIN_RATE_LIMIT: '1000',
      GUEST_RATE_LIMIT: '1000',
      MESSAGE_RATE_LIMIT: '1000',
      REGISTER_RATE_LIMIT: '100000',
      ...env,
    });
    const app = await createChatApp(config, { logger: silentLogger, drainTimeoutMs: 300, webRoot });
    const url = await app.listen();
    return { app, url };
  };
  let current = await open(0);
  const port = Number(new URL(current.url).port);
  let running = true;
  const server: WebServer = {
    url: current.url,
    port,
    app: current.app,
    dataDir,
    async stop() {
      if (!running) return;
      running = false;
      await current.app.close();
    },
    async restart() {
      await server.stop();
      current = await open(port);
      server.app = current.app;
      running = true;
    },
    async makeAgent(username) {
      await current.app.accounts.setRole(username, 'agent');
    },
    async close() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** A page with what went wrong in it: console errors, uncaught errors, dialogs that opened. */
export interface WatchedPage {
  page: Page;
  errors: string[];
  dialogs: string[];
}

/** Opens a page that records console errors, page errors and dialogs (dismissed). */
export async function watchedPage(context: BrowserContext): Promise<WatchedPage> {
  const page = await context.newPage();
  const watched: WatchedPage = { page, errors: [], dialogs: [] };
  page.on('console', (message) => {
    // With the resource's address, so a failed load says which request failed.
    if (message.type() === 'error') {
      const where = message.location().url;
      watched.errors.push(where ? `${message.text()} (${new URL(where).pathname})` : message.text());
    }
  });
  page.on('pageerror', (error) => watched.errors.push(`pageerror: ${error.message}`));
  page.on('dialog', (dialog) => {
    watched.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return watched;
}

let counter = 0;

/** A unique username for this run. */
export function uniqueName(base: string): string {
  return `${base}${++counter}${process.pid}`.slice(0, 30);
}

/** Signs up through the sign-up form; returns the username. */
export async function signUp(page: Page, url: string, displayName: string): Promise<string> {
  const username = uniqueName(displayName.toLowerCase().replace(/[^a-z]/g, ''));
  await page.goto(url);
  await page.getByTestId('signup-link').click();
  await page.getByTestId('login-username').fill(username);
  await page.getByLabel('Display name').fill(displayName);
  await page.getByTestId('login-password').fill('password123');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('room-list').waitFor();
  await waitConnected(page);
  return username;
}

/** Signs in through the sign-in form. */
export async function signIn(page: Page, url: string, username: string): Promise<void> {
  await page.goto(url);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill('password123');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('room-list').waitFor();
  await waitConnected(page);
}

/** Waits until the page's hub connection is up (the banner is hidden). */
export async function waitConnected(page: Page): Promise<void> {
  await page.getByTestId('connection-banner').waitFor({ state: 'hidden' });
}

/** Creates a room through the dialog (the room opens). */
export async function createRoom(page: Page, name: string, isPrivate = false): Promise<void> {
  await page.getByTestId('new-room').click();
  await page.getByTestId('new-room-name').fill(name);
  if (isPrivate) await page.getByTestId('new-room-private').check();
  await page.getByTestId('new-room-submit').click();
  await page.getByTestId('room-title').filter({ hasText: name }).waitFor();
}

/** Sends a message with the composer. */
export async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId('message-input').fill(text);
  await page.getByTestId('message-send').click();
}

/**
 * Waits until no send of this page is still on its way (a pending message is its own element,
 * without the stored message's id, replaced by the stored one when the server confirms it).
 */
export async function waitForSent(page: Page, timeout = 15_000): Promise<void> {
  await page.getByTestId('message-pending').first().waitFor({ state: 'detached', timeout });
}

/**
 * Reads from the element `locator` finds, again if that element was replaced in between: a
 * locator's `evaluate` finds the element and reads it in two round trips, and the message list
 * renders anew on updates (a replaced element has no computed style and no size). `read` answers
 * null for an element no longer in the document.
 */
export async function readAttached<T>(locator: Locator, read: (element: Element) => T | null): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const value = await locator.evaluate(read);
    if (value !== null) return value;
    if (attempt === 20) throw new Error(`${locator}: replaced on every read`);
  }
}

/** The texts of the message list, in order. */
export function messageTexts(page: Page): Promise<string[]> {
  return page.getByTestId('message-list').getByTestId('message-text').allTextContents();
}

/** Waits until the message list shows exactly `texts` in this order. */
export async function waitForTexts(page: Page, texts: string[], timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    (expected) => {
      const shown = Array.from(
        document.querySelectorAll('[data-testid="message-list"] [data-testid="message-text"]'),
        (e) => e.textContent,
      );
      return JSON.stringify(shown) === JSON.stringify(expected);
    },
    texts,
    { timeout },
  );
}

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core on the page; returns the serious and critical violations, described. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the browser's protocol, not as an inline <script> tag: the app's
  // Content-Security-Policy refuses inline scripts (and would log the refusal as an error).
  await page.evaluate(AXE);
  const result = (await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document): Promise<unknown> } }).axe;
    return axe.run(document);
  })) as { violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

/** Whether the page scrolls sideways. */
export function hasHorizontalScroll(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
}

/** Closes contexts and browser, ignoring what is already closed. */
export async function closeAll(browser: Browser | undefined): Promise<void> {
  await browser?.close().catch(() => undefined);
}

/** What a browser test file shares: the server, and pages in fresh contexts of one browser. */
export interface BrowserSuite {
  readonly server: WebServer;
  /** A page in a new context; its console errors are asserted empty after the file. */
  page(options?: {
    viewport?: { width: number; height: number };
    init?: () => void;
    /** A touch screen (taps). */
    hasTouch?: boolean;
  }): Promise<WatchedPage>;
  /** Pages whose console errors the file checks after its tests. */
  readonly pages: WatchedPage[];
}

/**
 * Registers `before`/`after` hooks (call it inside `describe`): builds the app, starts a server,
 * launches Chromium on first use, and at the end closes everything and asserts that no page
 * checked with `checkErrors` logged a console error.
 */
export function browserSuite(
  options: { checkErrors?: boolean; env?: Record<string, string> } = {},
): BrowserSuite {
  let webRoot = '';
  let server: WebServer | undefined;
  let browser: Browser | undefined;
  const pages: WatchedPage[] = [];
  before(async () => {
    webRoot = await buildWebApp();
    server = await startWebServer(webRoot, options.env);
  });
  after(async () => {
    await closeAll(browser);
    await server?.close();
    if (webRoot) rmSync(webRoot, { recursive: true, force: true });
    if (options.checkErrors !== false) {
      for (const p of pages) assert.deepEqual(p.errors, [], 'console errors');
    }
  });
  return {
    get server() {
      if (!server) throw new Error('the server starts in before()');
      return server;
    },
    pages,
    async page(opts = {}) {
      browser ??= await launchChromium();
      const context = await browser.newContext({
        ...(opts.viewport ? { viewport: opts.viewport } : {}),
        ...(opts.hasTouch ? { hasTouch: true } : {}),
      });
      if (opts.init) await context.addInitScript(opts.init);
      const watched = await watchedPage(context);
      pages.push(watched);
      return watched;
    },
  };
}

/** A hub connection of a user signed up in the browser (password123). */
export async function hubAs(url: string, username: string): Promise<{ hub: HubConnection; userId: string }> {
  const response = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: 'password123' }),
  });
  const { token, user } = (await response.json()) as { token: string; user: { id: string } };
  const hub = await connectClient(`${url}/hubs/chat`, { accessTokenFactory: () => token });
  return { hub, userId: user.id };
}

/** Answers the in-page confirmation dialog (`confirm-ok` or `confirm-cancel`); it closes. */
export async function answerConfirm(page: Page, ok: boolean): Promise<void> {
  const dialog = page.getByTestId('confirm-dialog');
  await dialog.waitFor();
  await page.getByTestId(ok ? 'confirm-ok' : 'confirm-cancel').click();
  await dialog.waitFor({ state: 'detached' });
}
