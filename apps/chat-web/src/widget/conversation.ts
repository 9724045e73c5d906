/**
 * One conversation in the widget: its messages (loaded, then kept up to date by the hub's events and
 * caught up after a reconnect, without gap or duplicate) and a composer. A message that cannot go
 * out while the connection is down waits and is sent again (the same clientMessageId) once it is back.
 * @module
 */
import type { Message, MessagesPage } from '@switchboard/chat-contract';
import { h } from '../dom.ts';
import type { WidgetChat } from './widget-chat.ts';

/** What a conversation view offers its mode. */
export interface ConversationView {
  readonly element: HTMLElement;
  /** Focuses the composer. */
  focus(): void;
  /** The room's newest seq shown. */
  readonly lastSeq: number;
  dispose(): void;
}

/** Options of {@link conversationView}. */
export interface ConversationOptions {
  /** The heading. */
  title: string;
  /** A back button (inbox mode with a list). */
  back?: () => void;
  /** Sends the text instead of `sendMessage` (support: reopens a closed request). */
  send?: (text: string, clientMessageId: string) => Promise<Message>;
  /** Whether the conversation is on screen, to mark it read. */
  visible: () => boolean;
  /** Messages already known (the one that opened a support request). */
  initial?: Message[];
  /** A line under the heading (support: whether an agent is there). */
  status?: HTMLElement;
}

/** A new clientMessageId. */
function newClientMessageId(): string {
  return crypto.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

interface Pending {
  clientMessageId: string;
  text: string;
  item: HTMLLIElement;
}

/** Renders a room's conversation. */
export function conversationView(
  chat: WidgetChat,
  roomId: string,
  options: ConversationOptions,
): ConversationView {
  const messages = new Map<number, Message>();
  const pending: Pending[] = [];
  let lastSeq = 0;
  let readSeq = 0;
  const list = h('ol', {
    class: 'messages',
    'data-testid': 'message-list',
    'aria-label': 'Messages',
    tabindex: 0,
  });
  const input = h('textarea', {
    'data-testid': 'message-input',
    'aria-label': 'Message',
    rows: 2,
    maxlength: 4000,
    placeholder: 'Write a message…',
  });
  const send = h('button', { type: 'submit', class: 'primary', 'data-testid': 'message-send' }, 'Send');
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'composer' }, input, send);
  const heading = h('h1', { class: 'title', 'data-testid': 'widget-title' }, options.title);
  const header = h(
    'header',
    { class: 'bar' },
    options.back
      ? h(
          'button',
          { type: 'button', class: 'back', 'data-testid': 'widget-back', onclick: options.back },
          '← Back',
        )
      : null,
    heading,
  );
  const element = h(
    'section',
    { class: 'conversation', 'aria-labelledby': 'conversation-title' },
    header,
    options.status ?? null,
    list,
    error,
    form,
  );
  heading.id = 'conversation-title';

  const itemOf = (m: { senderId: string; text: string; sentAt?: string }, mine: boolean) =>
    h(
      'li',
      { class: mine ? 'message mine' : 'message', 'data-testid': 'message-item' },
      h('span', { class: 'sender', 'data-testid': 'message-sender' }, chat.nameOf(m.senderId)),
      h('div', { class: 'text', 'data-testid': 'message-text' }, chat.body(m.text)),
    );

  const render = () => {
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const items: HTMLElement[] = [...messages.values()]
      .sort((a, b) => a.seq - b.seq)
      .filter((m) => !m.deleted)
      .map((m) => itemOf(m, m.senderId === chat.me.id));
    for (const p of pending) items.push(p.item);
    if (items.length === 0) items.push(h('li', { class: 'empty' }, 'No messages yet.'));
    list.replaceChildren(...items);
    if (atBottom || pending.length > 0) list.scrollTop = list.scrollHeight;
    markRead();
  };

  const markRead = () => {
    if (!options.visible() || lastSeq <= readSeq || chat.link.state !== 'connected') return;
    readSeq = lastSeq;
    void chat.link.invoke('markRead', { roomId, seq: lastSeq }).catch(() => undefined);
  };

  const add = (list: Message[]) => {
    for (const m of list) {
      if (m.roomId !== roomId) continue;
      messages.set(m.seq, m);
      lastSeq = Math.max(lastSeq, m.seq);
      const i = pending.findIndex((p) => p.clientMessageId === m.clientMessageId);
      if (i >= 0) pending.splice(i, 1);
    }
    void chat.ensureUsers(list.map((m) => m.senderId));
    render();
  };

  const catchUp = async () => {
    // From the newest seq shown on: what came while the connection was down.
    for (let more = true; more; ) {
      const page = await chat.link.invoke<MessagesPage>('getMessages', {
        roomId,
        ...(lastSeq > 0 ? { fromSeq: lastSeq + 1 } : {}),
        limit: 100,
      });
      add(page.messages);
      more = lastSeq > 0 && lastSeq < page.lastSeq && page.messages.length > 0;
    }
    for (const p of [...pending]) void deliver(p);
  };

  const deliver = async (p: Pending) => {
    p.item.dataset.state = 'sending';
    try {
      const stored = await (options.send
        ? options.send(p.text, p.clientMessageId)
        : chat.link.invoke<Message>('sendMessage', {
            roomId,
            text: p.text,
            clientMessageId: p.clientMessageId,
          }));
      // The server may store it under its own clientMessageId (a support request's first message).
      const i = pending.indexOf(p);
      if (i >= 0) pending.splice(i, 1);
      add([stored]);
      chat.loadMarkdownSoon();
      error.textContent = '';
    } catch (e) {
      p.item.dataset.state = 'waiting';
      error.textContent =
        chat.link.state === 'connected'
          ? (e as Error).message.replace(/^.*HubException: /, '')
          : 'Not connected: the message goes out as soon as the connection is back.';
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    const clientMessageId = newClientMessageId();
    const item = itemOf({ senderId: chat.me.id, text }, true);
    item.classList.add('pending');
    const p = { clientMessageId, text, item };
    pending.push(p);
    render();
    void deliver(p);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  const offs = [
    chat.onMessage((m) => {
      if (m.roomId !== roomId) return;
      if (lastSeq > 0 && m.seq > lastSeq + 1) void catchUp().catch(() => undefined);
      else add([m]);
    }),
    chat.onResumed(() => void catchUp().catch(() => undefined)),
    chat.onRender(render),
  ];
  if (options.initial) add(options.initial);
  void catchUp().catch((e: Error) => {
    error.textContent = e.message.replace(/^.*HubException: /, '');
  });
  render();

  return {
    element,
    get lastSeq() {
      return lastSeq;
    },
    focus: () => {
      input.focus();
      markRead();
    },
    dispose: () => {
      for (const off of offs) off();
    },
  };
}
