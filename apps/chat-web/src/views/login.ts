/**
 * The first screen of a signed-out visitor: sign in, sign up, or contact support as a guest.
 * @module
 */
import { h } from '../dom.ts';
import { inviteNotice } from '../room-extras.ts';
import type { Session } from '../session.ts';
import { ApiError, forgetGuest, guest, keptGuest, login, logout, me, register } from '../session.ts';

type Mode = 'signin' | 'signup' | 'support';

/** Renders the sign-in screen into `root`; `done` gets the new session. */
export function renderLogin(
  root: HTMLElement,
  done: (session: Session) => void,
  mode: Mode = 'signin',
): void {
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'login-error' });
  const field = (label: string, input: HTMLInputElement) =>
    h('label', { class: 'field' }, h('span', {}, label), input);
  const username = h('input', {
    name: 'username',
    autocomplete: 'username',
    required: true,
    'data-testid': 'login-username',
  });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: mode === 'signup' ? 'new-password' : 'current-password',
    required: true,
    minlength: mode === 'signup' ? 8 : undefined,
    'data-testid': 'login-password',
  });
  const displayName = h('input', {
    name: 'displayName',
    autocomplete: 'name',
    required: true,
    'data-testid': mode === 'support' ? 'guest-name' : 'signup-display-name',
  });
  const titles: Record<Mode, string> = {
    signin: 'Sign in',
    signup: 'Create an account',
    support: 'Contact support',
  };
  const submit = h(
    'button',
    { type: 'submit', class: 'primary', 'data-testid': mode === 'support' ? 'guest-submit' : 'login-submit' },
    mode === 'signup' ? 'Sign up' : mode === 'support' ? 'Start' : 'Sign in',
  );
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'login-title', novalidate: true },
    h('h1', { id: 'login-title' }, titles[mode]),
    mode === 'support'
      ? h('p', {}, 'Tell us your name and an agent will be with you.')
      : field('Username', username),
    mode !== 'signin' ? field(mode === 'support' ? 'Your name' : 'Display name', displayName) : null,
    mode !== 'support' ? field('Password', password) : null,
    error,
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    const attempt =
      mode === 'signin'
        ? login(username.value.trim(), password.value)
        : mode === 'signup'
          ? register(username.value.trim(), password.value, displayName.value.trim() || username.value.trim())
          : guest(displayName.value.trim());
    attempt.then(done, (e: unknown) => {
      submit.disabled = false;
      error.textContent = e instanceof ApiError ? e.message : 'The server cannot be reached. Try again.';
    });
  });
  const switcher = (to: Mode, text: string, testid: string) =>
    h(
      'button',
      { type: 'button', class: 'link', 'data-testid': testid, onclick: () => renderLogin(root, done, to) },
      text,
    );
  root.replaceChildren(
    h(
      'main',
      { class: 'login', id: 'main' },
      h('p', { class: 'brand' }, 'Switchboard chat'),
      comeBack(root, done, mode),
      inviteNotice(),
      form,
      h(
        'nav',
        { class: 'login-links', 'aria-label': 'Other ways in' },
        mode !== 'signup' ? switcher('signup', 'Create an account', 'signup-link') : null,
        mode !== 'signin' ? switcher('signin', 'I have an account: sign in', 'signin-link') : null,
        mode !== 'support' ? switcher('support', 'Contact support', 'contact-support') : null,
      ),
    ),
  );
  (mode === 'support' ? displayName : username).focus();
}

/** For a guest who signed out on this browser: the way back to their support conversation. */
function comeBack(root: HTMLElement, done: (session: Session) => void, mode: Mode): HTMLElement | null {
  const kept = keptGuest();
  if (!kept) return null;
  const error = h('p', { class: 'form-error', role: 'alert' });
  const resume = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      'data-testid': 'guest-resume',
      onclick: () => {
        resume.disabled = true;
        me(kept.token).then(
          (user) => {
            if (user) {
              forgetGuest();
              done({ token: kept.token, user });
            } else {
              forgetGuest();
              renderLogin(root, done, mode);
            }
          },
          () => {
            resume.disabled = false;
            error.textContent = 'The server cannot be reached. Try again.';
          },
        );
      },
    },
    'Continue my conversation',
  );
  return h(
    'section',
    { class: 'card come-back', 'aria-labelledby': 'come-back-title' },
    h('h2', { id: 'come-back-title' }, `Welcome back, ${kept.user.displayName}`),
    h('p', {}, 'Your conversation with the support team is still here.'),
    error,
    h(
      'div',
      { class: 'confirm-actions' },
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          'data-testid': 'guest-forget-kept',
          onclick: () => {
            forgetGuest();
            void logout(kept.token);
            renderLogin(root, done, mode);
          },
        },
        'Forget it',
      ),
      resume,
    ),
  );
}
