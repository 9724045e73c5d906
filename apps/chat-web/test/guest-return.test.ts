/**
 * A support customer (a guest) who signs out in Chromium: the page asks first, in the page, and
 * says the conversation is kept; the first screen then offers "Continue my conversation", which
 * brings them back to it with its history.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import { answerConfirm, axeViolations, browserSuite, send, waitForTexts } from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

describe('chat-web: a guest signs out and comes back', () => {
  const suite = browserSuite();

  test('sign-out asks in the page, keeps the conversation, and "Continue my conversation" returns to it', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const guest = await suite.page();
    const p = guest.page;
    await p.goto(suite.server.url);
    await p.getByTestId('contact-support').click();
    await p.getByTestId('guest-name').fill('Gil');
    await p.getByTestId('guest-submit').click();
    await p.getByTestId('support-subject').fill('Where is my parcel?');
    await p.getByTestId('support-text').fill('It left a week ago.');
    await p.getByTestId('support-submit').click();
    await waitForTexts(p, ['It left a week ago.']);

    await p.getByTestId('logout').click();
    await p.getByTestId('confirm-dialog').filter({ hasText: 'Continue my conversation' }).waitFor();
    assert.deepEqual(await axeViolations(p), []);
    await answerConfirm(p, false);
    assert.ok(await p.getByTestId('message-input').isVisible(), 'still signed in');
    await p.getByTestId('logout').click();
    await answerConfirm(p, true);
    await p.getByTestId('guest-resume').waitFor();
    await p.getByRole('region', { name: 'Welcome back, Gil' }).waitFor();
    assert.deepEqual(await axeViolations(p), []);
    await p.getByTestId('guest-resume').click();
    await waitForTexts(p, ['It left a week ago.']);
    await send(p, 'Any news?');
    await waitForTexts(p, ['It left a week ago.', 'Any news?']);

    // Signing out with "Forget it on this browser" ends the session for good.
    const token = await p.evaluate(
      () => JSON.parse(localStorage.getItem('switchboard.session')!).token as string,
    );
    await p.getByTestId('logout').click();
    await p.getByTestId('guest-forget').check();
    await answerConfirm(p, true);
    await p.getByTestId('contact-support').waitFor();
    assert.equal(await p.getByTestId('guest-resume').count(), 0);
    const me = await fetch(`${suite.server.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(me.status, 401, 'the token was revoked');
    assert.deepEqual(guest.dialogs, [], 'no browser dialog');
  });
});
