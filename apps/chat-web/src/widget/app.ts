/**
 * The widget's frame (`widget.html`), embedded by `widget.js` on a host page: the support
 * conversation (`mode=support`) or the user's rooms and direct messages (`mode=inbox`, or one room
 * with `room=`). Its navigation lives in memory: it never changes any address or history.
 * @module
 */
import type { Message, RoomSummary, SupportRequest, User } from '@switchboard/chat-contract';
import { h } from '../dom.ts';
import { type ConversationView, conversationView } from './conversation.ts';
import { HostLink } from './host-link.ts';
import { renderInbox } from './inbox.ts';
import { frameStorage, GUEST_KEY, type GuestSession, WidgetChat } from './widget-chat.ts';

const params = new URLSearchParams(location.search);
const mode = params.get('mode') === 'inbox' ? 'inbox' : 'support';
const onlyRoom = params.get('room') ?? undefined;
const root = document.getElementById('widget') as HTMLElement;
const banner = h('p', { class: 'banner', 'data-testid': 'widget-connection', role: 'status', hidden: true });
const body = h('div', { class: 'content' });
root.replaceChildren(banner, body);

let onOpen: (open: boolean) => void = () => {};
const host = new HostLink(params.get('origin') ?? '', (open) => onOpen(open), mode === 'inbox');

document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && mode === 'support') host.send({ sb: 'close' });
});

function showState(chat: WidgetChat): void {
  const state = chat.link.state;
  banner.hidden = state === 'connected' || state === 'stopped';
  banner.textContent = state === 'connecting' ? 'Connecting…' : 'Reconnecting…';
}

async function meOf(token: string): Promise<User | undefined> {
  const response = await fetch('/api/me', { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) return undefined;
  return ((await response.json()) as { user: User }).user;
}

function keptGuest(): GuestSession | undefined {
  try {
    const kept = JSON.parse(frameStorage.get(GUEST_KEY) ?? 'null') as GuestSession | null;
    return kept?.token && kept.user ? kept : undefined;
  } catch {
    return undefined;
  }
}

/** Connects as the host's user (when the host page gives a token) or as a kept guest. */
async function connect(): Promise<WidgetChat | undefined> {
  const token = await host.requestToken();
  const me = token ? await meOf(token).catch(() => undefined) : undefined;
  let chat: WidgetChat | undefined;
  if (me) chat = new WidgetChat(me, { host }, () => showState(chat!));
  else if (mode === 'support') {
    const guest = keptGuest();
    const user = guest ? await meOf(guest.token).catch(() => undefined) : undefined;
    if (guest && user) chat = new WidgetChat(user, { guest }, () => showState(chat!));
    else frameStorage.remove(GUEST_KEY);
  }
  if (chat) await chat.start();
  return chat;
}

function afterFirstRender(chat: WidgetChat): void {
  // Markdown comes lazily: after the first message sent, or 15 s after the first render.
  setTimeout(() => chat.loadMarkdown(), 15_000);
}

async function support(): Promise<void> {
  let chat = await connect();
  let view: ConversationView | undefined;
  let unread = 0;
  const visible = () => host.open && document.visibilityState === 'visible';
  onOpen = (open) => {
    if (open) {
      unread = 0;
      host.send({ sb: 'unread', count: 0 });
      view?.focus();
      if (!view) body.querySelector<HTMLElement>('textarea, input')?.focus();
    }
  };
  let request: SupportRequest | undefined;
  const status = h('p', { class: 'status', 'data-testid': 'support-status', role: 'status', hidden: true });
  const renderStatus = () => {
    status.hidden = !request;
    status.dataset.state = request?.status === 'open' ? 'waiting' : (request?.status ?? '');
    status.textContent =
      request?.status === 'closed'
        ? 'This conversation was closed. Write again to reopen it.'
        : request?.status === 'assigned'
          ? 'An agent is with you.'
          : 'Waiting for an agent… We answer here as soon as one is free.';
  };
  const known = (next: SupportRequest & { message?: Message }) => {
    const { message: _message, ...rest } = next;
    request = rest;
    renderStatus();
  };
  /** The next message: in the open request, or opening one again (also when its state is not known). */
  const sendSupport = async (c: WidgetChat, roomId: string, text: string, clientMessageId: string) => {
    if (request && request.status !== 'closed')
      return c.link.invoke<Message>('sendMessage', { roomId, text, clientMessageId });
    const result = await c.link.invoke<SupportRequest & { message: Message }>('openSupportRequest', {
      subject: text.split('\n')[0]!.slice(0, 80),
      text,
    });
    known(result);
    return result.message;
  };
  const show = (c: WidgetChat, roomId: string, initial: Message[], initialUnread: number) => {
    view = conversationView(c, roomId, {
      title: 'Support',
      visible,
      initial,
      status,
      send: (text, clientMessageId) => sendSupport(c, roomId, text, clientMessageId),
    });
    body.replaceChildren(view.element);
    unread = host.open ? 0 : initialUnread;
    host.send({ sb: 'unread', count: unread });
    c.link.hub.on('supportRequestUpdated', (e: { request: SupportRequest }) => {
      if (e.request.customerId === c.me.id) known(e.request);
    });
    c.onMessage((m) => {
      if (m.roomId !== roomId || m.senderId === c.me.id || visible()) return;
      unread += 1;
      host.send({ sb: 'unread', count: unread, notify: true });
    });
    if (host.open) view.focus();
  };
  if (chat) {
    const rooms = await chat.link.invoke<RoomSummary[]>('listRooms');
    const room = rooms.find((r) => r.kind === 'support');
    if (room) {
      show(chat, room.id, [], room.unreadCount);
      afterFirstRender(chat);
      return;
    }
  }
  // The first message: a form (with the name for a guest), then the conversation.
  const name = h('input', {
    'data-testid': 'guest-name',
    autocomplete: 'name',
    maxlength: 80,
    id: 'guest-name',
  });
  const text = h('textarea', { 'data-testid': 'support-text', rows: 4, required: true, id: 'support-text' });
  const error = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'support-submit' }, 'Send');
  const form = h(
    'form',
    { class: 'start', 'aria-labelledby': 'start-title' },
    h('h1', { class: 'title', id: 'start-title' }, 'How can we help?'),
    chat ? null : h('label', { for: 'guest-name' }, 'Your name'),
    chat ? null : name,
    h('label', { for: 'support-text' }, 'Your message'),
    text,
    error,
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const message = text.value.trim();
    if (!message) {
      error.textContent = 'Please write your message.';
      return;
    }
    submit.disabled = true;
    void (async () => {
      if (!chat) {
        const response = await fetch('/api/auth/guest', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ displayName: name.value.trim() || 'Guest' }),
        });
        const data = (await response.json()) as GuestSession & { error?: { message: string } };
        if (!response.ok) throw new Error(data.error?.message ?? 'Could not start the conversation.');
        const guest = { token: data.token, user: data.user };
        frameStorage.set(GUEST_KEY, JSON.stringify(guest));
        const c: WidgetChat = new WidgetChat(data.user, { guest }, () => showState(c));
        await c.start();
        chat = c;
      }
      const subject = message.split('\n')[0]!.slice(0, 80);
      const result = await chat.link.invoke<SupportRequest & { message: Message }>('openSupportRequest', {
        subject,
        text: message,
      });
      chat.loadMarkdownSoon();
      known(result);
      show(chat, result.roomId, [result.message], 0);
    })().catch((e: Error) => {
      submit.disabled = false;
      error.textContent = e.message.replace(/^.*HubException: /, '');
    });
  });
  body.replaceChildren(form);
  if (host.open) text.focus();
  if (chat) afterFirstRender(chat);
}

async function inbox(): Promise<void> {
  const chat = await connect();
  if (!chat) {
    body.replaceChildren(
      h(
        'section',
        { class: 'signed-out' },
        h('h1', { class: 'title' }, 'Messages'),
        h('p', {}, 'Sign in to see your conversations.'),
      ),
    );
    return;
  }
  renderInbox(chat, body, onlyRoom);
  afterFirstRender(chat);
}

void (mode === 'inbox' ? inbox() : support()).catch((e: Error) => {
  body.replaceChildren(h('p', { class: 'error', role: 'alert' }, `The chat could not start: ${e.message}`));
});
