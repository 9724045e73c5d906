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
import { type Browser, type BrowserContext, chromium } from 'playwright-core';

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
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
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
    child.kill('SIGKILL');
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const context = browser.contexts()[0]!;
  return {
    context,
    async close() {
      await browser?.close().catch(() => undefined);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
