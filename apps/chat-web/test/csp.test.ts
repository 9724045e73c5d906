/**
 * The web app under its Content-Security-Policy (issue #18, finding 9) in a real browser: the
 * server sends the policy (no inline script, frame-ancestors 'none'), and the app loads, signs up,
 * creates a room, sends a message and receives another user's with no CSP violation (no
 * `securitypolicyviolation` event, no console error).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import { browserSuite, createRoom, send, signUp, waitForTexts } from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

/** Records CSP violations in the page (before any of its scripts run). */
function recordViolations(): void {
  const list: string[] = [];
  (window as unknown as { cspViolations: string[] }).cspViolations = list;
  document.addEventListener('securitypolicyviolation', (e) =>
    list.push(`${e.violatedDirective} ${e.blockedURI}`),
  );
}

describe('chat-web: the app under its Content-Security-Policy', () => {
  const suite = browserSuite();

  test('the policy is sent, and the app works under it with no violation', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const index = await fetch(`${suite.server.url}/`);
    const csp = index.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('referrer-policy'), 'no-referrer');

    const alice = await suite.page({ init: recordViolations });
    const bob = await suite.page({ init: recordViolations });
    await signUp(alice.page, suite.server.url, 'Alice');
    await signUp(bob.page, suite.server.url, 'Bob');
    const room = `csp-${process.pid}`;
    await createRoom(alice.page, room);
    await bob.page.getByTestId('browse-rooms').click();
    await bob.page
      .getByTestId('public-rooms')
      .locator('li', { hasText: room })
      .getByTestId('join-room')
      .click();
    await bob.page.getByTestId('room-title').filter({ hasText: room }).waitFor();
    await send(alice.page, 'hello under the policy');
    await waitForTexts(bob.page, ['hello under the policy']);
    await bob.page.getByTestId('message-input').pressSequentially('hi');
    await alice.page.getByTestId('typing-indicator').filter({ hasText: 'Bob is typing' }).waitFor();
    await send(bob.page, 'and back');
    await waitForTexts(alice.page, ['hello under the policy', 'and back']);
    for (const page of [alice.page, bob.page]) {
      const violations = await page.evaluate(
        () => (window as unknown as { cspViolations: string[] }).cspViolations,
      );
      assert.deepEqual(violations, [], 'no CSP violation');
    }
  });
});
