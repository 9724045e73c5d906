/**
 * The chat in the browser: shows the sign-in screen, or, with a session kept from an earlier
 * visit, the chat.
 * @module
 */
import { Chat } from './chat.ts';
import { h } from './dom.ts';
import { acceptPendingInvite, takeInviteFromAddress } from './room-extras.ts';
import { startRouting } from './router.ts';
import type { Session } from './session.ts';
import {
  clearSession,
  forgetGuest,
  keepGuest,
  loadSession,
  logout,
  me,
  refresh,
  SESSION_KEY,
  saveSession,
} from './session.ts';
import { applyTheme } from './theme.ts';
import { renderLogin } from './views/login.ts';
import { PAGE_TITLE, renderShell } from './views/shell.ts';

const root = document.getElementById('app')!;
let chat: Chat | undefined;

function signedOut(): void {
  document.title = PAGE_TITLE;
  // The sign-in screen follows the system's theme; a user's choice comes back with them.
  applyTheme('system');
  renderLogin(root, (session) => {
    saveSession(session);
    // A guest who came back (or started again) is signed in: nothing is kept aside any more.
    if (session.user.isGuest) forgetGuest();
    void signedIn(session);
  });
}

async function signedIn(session: Session): Promise<void> {
  const current = new Chat(session, () => void signOut(current, false));
  chat = current;
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => void refreshToken(current), REFRESH_EVERY_MS);
  renderShell(root, current, (options) => void signOut(current, true, options?.keepGuest === true));
  try {
    await current.start();
  } catch {
    // start() retries on its own; a failed first listing is repeated after the next reconnect.
  }
  if (chat === current && !current.me.isGuest) stopRouting = startRouting(current);
  // An invite link opened before (or while) signing in: join its room now.
  if (chat === current) await acceptPendingInvite(current);
}

let stopRouting = () => {};

/** How often a signed-in page trades its token for a fresh one (tokens live a day or longer). */
const REFRESH_EVERY_MS = 4 * 3600_000;
let refreshTimer: ReturnType<typeof setInterval> | undefined;

/** Trades the stored token for a fresh one; a token another tab already traded is left alone. */
async function refreshToken(current: Chat): Promise<void> {
  const token = current.token;
  try {
    const fresh = await refresh(token);
    if (chat === current && loadSession()?.token === token) saveSession(fresh);
  } catch {
    // Another tab refreshed first, or the server is away: the next round tries again.
  }
}

/**
 * Ends the session in every tab of this browser. `keepGuest`: a guest's token is kept aside, not
 * revoked, so that "Continue my conversation" brings them back to it.
 */
async function signOut(current: Chat, tellServer = true, keepGuestSession = false): Promise<void> {
  if (chat !== current) return;
  const token = current.token;
  if (keepGuestSession && current.me.isGuest) {
    keepGuest({ token, user: current.me });
    tellServer = false;
  }
  chat = undefined;
  clearInterval(refreshTimer);
  stopRouting();
  // Other tabs hear of it (the storage event) before the server ends the token's connections.
  clearSession();
  await current.stop();
  if (tellServer) await logout(token);
  signedOut();
}

// Signing out in one tab signs out every tab of this browser.
window.addEventListener('storage', (event) => {
  if (event.key === SESSION_KEY && event.newValue === null && chat) {
    const current = chat;
    chat = undefined;
    clearInterval(refreshTimer);
    stopRouting();
    void current.stop().then(signedOut);
  }
});

async function boot(): Promise<void> {
  takeInviteFromAddress();
  const saved = loadSession();
  if (!saved) {
    signedOut();
    return;
  }
  root.replaceChildren(h('main', { id: 'main', class: 'login' }, h('p', { role: 'status' }, 'Signing in…')));
  let user = saved.user;
  try {
    const checked = await me(saved.token);
    if (!checked) {
      clearSession();
      signedOut();
      return;
    }
    user = checked;
  } catch {
    // The server is unreachable: go on with the kept session; the connection retries.
  }
  const session = { token: saved.token, user };
  saveSession(session);
  await signedIn(session);
}

void boot();
