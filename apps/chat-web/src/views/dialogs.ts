/**
 * The dialogs of the chat: create a room, browse public rooms, find people (a direct or group
 * conversation), invite, see members, search messages.
 * @module
 */

import type { User } from '@switchboard/chat-contract';
import { type Chat, errorText } from '../chat.ts';
import { type Child, h } from '../dom.ts';
import { go } from '../router.ts';
import { openDialog } from './dialog.ts';
import { loadMembersPresence, memberRow } from './presence.ts';

/** Asks for a room's name and privacy, creates it and opens it. */
export function createRoomDialog(chat: Chat): void {
  const name = h('input', {
    name: 'name',
    required: true,
    maxlength: 80,
    autofocus: true,
    'data-testid': 'new-room-name',
  });
  const isPrivate = h('input', { type: 'checkbox', name: 'private', 'data-testid': 'new-room-private' });
  const form = h(
    'form',
    {},
    h('label', { class: 'field' }, h('span', {}, 'Name'), name),
    h('label', { class: 'check' }, isPrivate, ' Private (invited people only)'),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'new-room-submit' }, 'Create room'),
  );
  const dialog = openDialog('New room', 'new-room-dialog', form);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    chat
      .createRoom(name.value.trim(), isPrivate.checked)
      .then(dialog.close, (e) => dialog.error(errorText(e)));
  });
}

/** Lists public rooms to join. */
export function browseRoomsDialog(chat: Chat): void {
  const list = h('ul', { class: 'pick-list', 'data-testid': 'public-rooms' }, h('li', {}, 'Loading…'));
  const dialog = openDialog('Public rooms', 'browse-dialog', list);
  chat.listPublicRooms().then(
    (rooms) => {
      list.replaceChildren(
        ...(rooms.length === 0 ? [h('li', {}, 'No public rooms yet.')] : []),
        ...rooms.map((room) => {
          const member = chat.rooms.has(room.id);
          return h(
            'li',
            {},
            h('span', { class: 'room-name' }, `# ${room.name}`),
            h(
              'button',
              {
                type: 'button',
                'data-testid': 'join-room',
                onclick: () =>
                  (member ? chat.open(room.id) : chat.joinRoom(room.id)).then(dialog.close, (e) =>
                    dialog.error(errorText(e)),
                  ),
              },
              member ? 'Open' : 'Join',
            ),
          );
        }),
      );
    },
    (e) => dialog.error(errorText(e)),
  );
}

/**
 * Searches people by name; `pick` gets the chosen users. Used to start a conversation (one person:
 * direct, several: group) and to invite.
 */
function peopleDialog(
  chat: Chat,
  title: string,
  testid: string,
  action: string,
  pick: (users: User[]) => Promise<unknown>,
): void {
  const chosen = new Map<string, User>();
  const query = h('input', {
    type: 'search',
    'aria-label': 'Name or username',
    autofocus: true,
    'data-testid': 'people-query',
  });
  const results = h('ul', { class: 'pick-list', 'data-testid': 'people-results', 'aria-live': 'polite' });
  const chosenLine = h('p', { 'data-testid': 'people-chosen' });
  const go = h(
    'button',
    { type: 'submit', class: 'primary', 'data-testid': 'people-go', disabled: true },
    action,
  );
  const form = h(
    'form',
    { role: 'search' },
    h('label', { class: 'field' }, h('span', {}, 'Find people'), query),
  );
  const done = h('form', {}, chosenLine, go);
  const dialog = openDialog(title, testid, form, results, done);
  const renderChosen = () => {
    chosenLine.textContent =
      chosen.size === 0
        ? 'Nobody chosen yet.'
        : `With: ${[...chosen.values()].map((u) => u.displayName).join(', ')}`;
    go.disabled = chosen.size === 0;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const search = () => {
    const q = query.value.trim();
    if (!q) return;
    chat.searchUsers(q).then(
      (users) =>
        results.replaceChildren(
          ...(users.length === 0 ? [h('li', {}, 'Nobody found.')] : []),
          ...users.map((user) =>
            h(
              'li',
              {},
              h('span', {}, `${user.displayName} (@${user.username})`),
              h(
                'button',
                {
                  type: 'button',
                  'data-testid': 'people-pick',
                  'aria-pressed': String(chosen.has(user.id)),
                  onclick: (event) => {
                    if (chosen.has(user.id)) chosen.delete(user.id);
                    else chosen.set(user.id, user);
                    (event.currentTarget as HTMLElement).setAttribute(
                      'aria-pressed',
                      String(chosen.has(user.id)),
                    );
                    renderChosen();
                  },
                },
                'Choose',
              ),
            ),
          ),
        ),
      (e) => dialog.error(errorText(e)),
    );
  };
  query.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    search();
  });
  done.addEventListener('submit', (event) => {
    event.preventDefault();
    pick([...chosen.values()]).then(dialog.close, (e) => dialog.error(errorText(e)));
  });
  renderChosen();
}

/** Starts a direct (one person) or group (several) conversation. */
export function findPeopleDialog(chat: Chat): void {
  peopleDialog(chat, 'Find people', 'people-dialog', 'Start conversation', (users) =>
    chat.openDirect(users.map((u) => u.id)),
  );
}

/** Invites people to a room. */
export function inviteDialog(chat: Chat, roomId: string): void {
  peopleDialog(chat, 'Invite people', 'invite-dialog', 'Invite', async (users) => {
    for (const user of users) await chat.invite(roomId, user.id);
  });
}

/** Lists a room's members with their presence. */
export function membersDialog(chat: Chat, roomId: string): void {
  const list = h('ul', { class: 'pick-list', 'data-testid': 'members-list' }, h('li', {}, 'Loading…'));
  const dialog = openDialog('Members', 'members-dialog', list);
  chat.loadMembers(roomId).then(
    (members) => {
      list.replaceChildren(...members.map((user) => memberRow(chat, user)));
      loadMembersPresence(chat, members);
    },
    (e) => dialog.error(errorText(e)),
  );
}

/** The words of a search, as the server matches them (each a prefix of a word). */
export function searchWords(query: string): string[] {
  return query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** `text` as text nodes with the words that start with a search word in `<mark>`. */
export function highlight(text: string, words: readonly string[]): Child[] {
  if (words.length === 0) return [text];
  const parts: Child[] = [];
  let last = 0;
  for (const match of text.matchAll(/[\p{L}\p{N}]+/gu)) {
    const word = match[0].toLowerCase();
    const prefix = words.filter((w) => word.startsWith(w)).sort((a, b) => b.length - a.length)[0];
    if (!prefix) continue;
    const at = match.index ?? 0;
    parts.push(text.slice(last, at), h('mark', {}, text.slice(at, at + prefix.length)));
    last = at + prefix.length;
  }
  parts.push(text.slice(last));
  return parts.filter((p) => p !== '');
}

/**
 * Opens the room of a message at that message (scrolled to and highlighted by the room view), at
 * its address `#/rooms/<id>/messages/<id>`.
 */
export function openAtMessage(chat: Chat, roomId: string, messageId: string): Promise<void> {
  return go(chat, { roomId, messageId });
}

/** Shows search results for a query (sender, room, time, the match marked); one opens its room there. */
export function searchDialog(chat: Chat, query: string): void {
  const list = h('ul', { class: 'pick-list', 'data-testid': 'search-results' }, h('li', {}, 'Searching…'));
  const dialog = openDialog(`Search: ${query}`, 'search-dialog', list);
  const words = searchWords(query);
  chat.searchMessages(query).then(
    (messages) => {
      chat.rememberSenders(messages);
      const render = () =>
        list.replaceChildren(
          ...(messages.length === 0 ? [h('li', {}, 'No messages found.')] : []),
          ...messages.map((m) => {
            const room = chat.rooms.get(m.roomId);
            const sender = m.senderId === chat.me.id ? 'You' : chat.nameOf(m.senderId);
            return h(
              'li',
              { 'data-testid': 'search-result', 'data-message-id': m.id, 'data-room-id': m.roomId },
              h(
                'button',
                {
                  type: 'button',
                  class: 'result',
                  onclick: () => {
                    dialog.close();
                    void openAtMessage(chat, m.roomId, m.id);
                  },
                },
                h(
                  'span',
                  { class: 'result-meta' },
                  h('span', { class: 'sender', 'data-testid': 'search-result-sender', dir: 'auto' }, sender),
                  ' in ',
                  h(
                    'span',
                    { 'data-testid': 'search-result-room', dir: 'auto' },
                    room ? chat.titleOf(room) : 'a conversation',
                  ),
                  ' · ',
                  h(
                    'time',
                    { datetime: m.sentAt, 'data-testid': 'search-result-time' },
                    formatWhen(m.sentAt),
                  ),
                ),
                h('span', { class: 'text', dir: 'auto' }, ...highlight(m.text, words)),
              ),
            );
          }),
        );
      render();
      // Names of senders who are not known yet arrive a moment later.
      const off = chat.on('members', render);
      dialog.element.addEventListener('close', off);
    },
    (e) => dialog.error(errorText(e)),
  );
}

/** A date and time for a search result (results come from any day). */
function formatWhen(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? ''
    : date.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}
