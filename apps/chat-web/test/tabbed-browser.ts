/**
 * A Chromium whose pages are tabs of one window, so that bringing one tab to the front hides the
 * others (`document.visibilityState === 'hidden'`, with its `visibilitychange`), as in a desktop
 * browser. Playwright's own launch enables focus emulation on every page it creates, which keeps
 * every page visible whatever tab is in front; here Debian's Chromium is started by the test
 * (headless, its DevTools on a free port) and Playwright attaches over CDP with `noDefaults`, which
 * leaves the browser's default context without that emulation. Nothing is downloaded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '@switchboard/testkit';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** A browser whose default context's pages are tabs of one window. */
export interface TabbedBrowser {
  /** The default context: its pages are tabs; `bringToFront` switches tabs. */
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Starts Chromium headless with tabs (see the module's comment). */
export async function launchTabbedChromium(): Promise<TabbedBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'rmh-tabs-'));
  const child: ChildProcess = spawn(
    CHROMIUM_PATH,
    [
      ...CHROMIUM_ARGS,
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      '--window-size=1280,800',
      'about:blank',
    ],
    // Its own process group: closing ends Chromium's helper processes too.
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Gone already.
    }
  };
  let browser: Browser | undefined;
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`Chromium did not start: ${text}`)), 30_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const match = /DevTools listening on (ws:\/\/\S+)/.exec(text);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`Chromium exited (${code}): ${text}`)));
    });
    browser = await chromium.connectOverCDP(endpoint, { noDefaults: true, isLocal: true });
  } catch (error) {
    killGroup('SIGKILL');
    rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    throw error;
  }
  const context = browser.contexts()[0]!;
  return {
    context,
    async close() {
      const exited = new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
        else child.once('exit', resolve);
      });
      await browser?.close().catch(() => undefined);
      killGroup('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      killGroup('SIGKILL');
      // A helper process may still be letting go of the profile: retried, as Node's rm allows.
      rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    },
  };
}

/** A notification the page made, as {@link RECORD_NOTIFICATIONS} recorded it. */
export interface Recorded {
  title: string;
  body: string;
  tag: string;
}

/**
 * Records `new Notification(...)` (into `window.__notes`, the notifications in `window.__shown`)
 * and counts `Notification.requestPermission()` calls (`window.__asked`); an init script's text,
 * run before the app.
 */
export const RECORD_NOTIFICATIONS = `
  const Real = window.Notification;
  window.__notes = [];
  window.__shown = [];
  window.__asked = 0;
  class Recording extends Real {
    constructor(title, options) {
      window.__notes.push({ title, body: options?.body ?? '', tag: options?.tag ?? '' });
      super(title, options);
      window.__shown.push(this);
    }
    static requestPermission(callback) {
      window.__asked++;
      return Real.requestPermission(callback);
    }
  }
  window.Notification = Recording;
`;

/** The notifications the page made so far. */
export function notes(page: Page): Promise<Recorded[]> {
  return page.evaluate(() => (window as unknown as { __notes: Recorded[] }).__notes);
}

/**
 * Hides the page by bringing another tab of its context to the front, and checks that the browser
 * says so: the page reports `hidden` (a background tab). Nothing on the page is overridden.
 */
export async function hide(page: Page, other: Page): Promise<void> {
  await other.bringToFront();
  // Polled on a timer: a hidden tab runs no animation frames.
  await page.waitForFunction(() => document.visibilityState === 'hidden', undefined, {
    timeout: 10_000,
    polling: 100,
  });
}

/** Brings the page's tab back to the front: the browser reports it visible again. */
export async function show(page: Page): Promise<void> {
  await page.bringToFront();
  await page.waitForFunction(() => document.visibilityState === 'visible', undefined, {
    timeout: 10_000,
    polling: 100,
  });
}
