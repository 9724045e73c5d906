/**
 * The chat in the browser: shows the sign-in screen, or, with a session kept from an earlier
 * visit, the chat.
 * @module
 */
import { Chat } from './chat.ts';
import { h } from './dom.ts';
import { clearSession, loadSession, logout, me, saveSession } from './session.ts';
import type { Session } from './types.ts';
import { renderLogin } from './views/login.ts';
import { renderShell } from './views/shell.ts';

const root = document.getElementById('app')!;
let chat: Chat | undefined;

function signedOut(): void {
  renderLogin(root, (session) => {
    saveSession(session);
    void signedIn(session);
  });
}

async function signedIn(session: Session): Promise<void> {
  chat = new Chat(session);
  const current = chat;
  renderShell(root, current, () => void signOut(current));
  try {
    await current.start();
  } catch {
    // start() retries on its own; a failed first listing is repeated after the next reconnect.
  }
}

async function signOut(current: Chat): Promise<void> {
  await current.stop();
  await logout(current.session.token);
  clearSession();
  chat = undefined;
  signedOut();
}

async function boot(): Promise<void> {
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
