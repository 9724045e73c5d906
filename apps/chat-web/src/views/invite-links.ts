/**
 * A room's invite links in its settings (owner or admin): create one with an expiry and a use
 * limit (`invite-create`), copy it, see its uses and state, revoke it. Each link (`invite-link`) is
 * the address `{origin}/invite/{token}`, which joins the room for anyone signed in with an account.
 * @module
 */
import type { RoomInvite } from '@switchboard/chat-contract';
import { type Chat, errorText } from '../chat.ts';
import { h, replaceChildren } from '../dom.ts';

const EXPIRIES: readonly [number, string][] = [
  [3600, '1 hour'],
  [24 * 3600, '1 day'],
  [7 * 24 * 3600, '7 days'],
  [30 * 24 * 3600, '30 days'],
];

const STATUS_WORDS: Record<RoomInvite['status'], string> = {
  active: 'Active',
  expired: 'Expired',
  usedUp: 'Used up',
  revoked: 'Revoked',
};

/** The full address of an invite link. */
export function inviteAddress(invite: RoomInvite): string {
  return `${location.origin}${invite.path}`;
}

/** The invite links part of a room's settings dialog. */
export function inviteLinksSection(chat: Chat, roomId: string): HTMLElement {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const list = h('ul', { class: 'invite-list', 'aria-label': 'Invite links' });
  const expiry = h(
    'select',
    { id: 'invite-expiry', 'data-testid': 'invite-expiry' },
    ...EXPIRIES.map(([seconds, label]) =>
      h('option', { value: seconds, selected: seconds === 7 * 24 * 3600 }, label),
    ),
  );
  const uses = h('input', {
    id: 'invite-uses',
    type: 'number',
    min: 1,
    max: 1000,
    value: 25,
    'data-testid': 'invite-uses',
  });
  const fail = (e: unknown) => {
    error.textContent = errorText(e);
  };
  const load = async () => {
    const invites = await chat.link.invoke<RoomInvite[]>('listInvites', roomId);
    replaceChildren(
      list,
      invites.length === 0
        ? [h('li', { class: 'hint' }, 'No invite links yet.')]
        : invites.map((invite) => row(chat, invite, load, fail)),
    );
  };
  const create = h(
    'button',
    {
      type: 'button',
      'data-testid': 'invite-create',
      onclick: () => {
        error.textContent = '';
        chat.link
          .invoke<RoomInvite>('createInvite', {
            roomId,
            expiresInSeconds: Number(expiry.value),
            maxUses: Math.max(1, Math.min(1000, Math.floor(Number(uses.value) || 1))),
          })
          .then(load)
          .catch(fail);
      },
    },
    'Create invite link',
  );
  void load().catch(fail);
  return h(
    'section',
    { class: 'invite-links', 'aria-labelledby': 'invite-links-title' },
    h('h3', { id: 'invite-links-title' }, 'Invite links'),
    h(
      'p',
      { class: 'hint' },
      'Anyone signed in with an account who opens a link joins this room, even when it is private.',
    ),
    h(
      'div',
      { class: 'invite-form' },
      h('label', { for: 'invite-expiry' }, 'Expires after'),
      expiry,
      h('label', { for: 'invite-uses' }, 'Uses'),
      uses,
      create,
    ),
    error,
    list,
  );
}

function row(chat: Chat, invite: RoomInvite, reload: () => Promise<void>, fail: (e: unknown) => void) {
  const address = inviteAddress(invite);
  const active = invite.status === 'active';
  return h(
    'li',
    { class: `invite-row ${invite.status}`, 'data-testid': 'invite-row', 'data-status': invite.status },
    h('input', {
      class: 'invite-link',
      'data-testid': 'invite-link',
      readonly: true,
      value: address,
      'aria-label': 'Invite link',
      onfocus: (event) => (event.target as HTMLInputElement).select(),
    }),
    h(
      'span',
      { class: 'invite-state' },
      `${STATUS_WORDS[invite.status]} · ${invite.uses}/${invite.maxUses} used · until `,
      h('time', { datetime: invite.expiresAt }, new Date(invite.expiresAt).toLocaleString()),
    ),
    active
      ? h(
          'button',
          {
            type: 'button',
            'data-testid': 'invite-copy',
            onclick: () => void navigator.clipboard?.writeText(address).catch(() => undefined),
          },
          'Copy',
        )
      : null,
    active
      ? h(
          'button',
          {
            type: 'button',
            'data-testid': 'invite-revoke',
            onclick: () => {
              chat.link.invoke('revokeInvite', invite.id).then(reload).catch(fail);
            },
          },
          'Revoke',
        )
      : null,
  );
}
