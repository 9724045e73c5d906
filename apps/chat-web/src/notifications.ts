/**
 * Notifications: the unread count in the page's title, a desktop notification (the browser's
 * Notification API) for a direct message, a mention, a message in a room set to "all", a reply in
 * a thread the user is in, or (for agents) a new support request, while the page is hidden;
 * clicking one opens that room at that message. Each room is notified for all messages, mentions
 * only, or muted (no count, a dot; no thread replies either); defaults: direct and support
 * conversations all, rooms mentions only. An optional sound. The settings are kept in this
 * browser, per user. Permission is asked only from a click (never on load).
 * @module
 */
import type { Message, RoomSummary, SupportRequest, ThreadActivity } from '@switchboard/chat-contract';
import type { Chat } from './chat.ts';
import { routeHash } from './router.ts';

/** How much a room notifies. */
export type NotifyLevel = 'all' | 'mentions' | 'muted';

/** The levels with their words. */
export const NOTIFY_LEVELS: readonly { level: NotifyLevel; label: string }[] = [
  { level: 'all', label: 'All messages' },
  { level: 'mentions', label: 'Mentions only' },
  { level: 'muted', label: 'Muted' },
];

interface Stored {
  rooms: Record<string, NotifyLevel>;
  sound: boolean;
}

/** The localStorage key of a user's notification settings. */
export function settingsKey(userId: string): string {
  return `switchboard.notifications.${userId}`;
}

/** A user's notification settings and the notifications they raise. */
export class Notifier {
  private stored: Stored;
  private readonly listeners = new Set<() => void>();
  /** Opens the support queue (the shell sets it); a support request's notification calls it. */
  openQueue: () => void = () => {};

  constructor(
    private readonly chat: Chat,
    private readonly baseTitle: string,
  ) {
    this.stored = load(chat.me.id);
    addEventListener('storage', this.onStorage);
  }

  /** The room's level: its own setting, else the default of its kind. */
  levelOf(room: Pick<RoomSummary, 'id' | 'kind'>): NotifyLevel {
    return this.stored.rooms[room.id] ?? (room.kind === 'room' ? 'mentions' : 'all');
  }

  /** Sets a room's level. */
  setLevel(roomId: string, level: NotifyLevel): void {
    this.stored.rooms[roomId] = level;
    this.save();
  }

  /** Whether a sound plays with each notification. */
  get sound(): boolean {
    return this.stored.sound;
  }
  set sound(on: boolean) {
    this.stored.sound = on;
    this.save();
  }

  /** The browser's permission: `granted`, `denied`, `default`, or `unsupported`. */
  get permission(): NotificationPermission | 'unsupported' {
    return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
  }

  /** Asks for permission (call it from a click). */
  async askPermission(): Promise<void> {
    if (this.permission === 'default') await Notification.requestPermission();
    this.emit();
  }

  /** Called on every change of the settings (this tab or another). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The count in the title: unread messages of rooms not muted, plus new support requests. */
  titleCount(): number {
    let count = this.chat.newRequests.size;
    for (const room of this.chat.rooms.values())
      if (this.levelOf(room) !== 'muted') count += room.unreadCount;
    return count;
  }

  /** Puts the count in the page's title. */
  renderTitle(): void {
    const count = this.titleCount();
    document.title = count > 0 ? `(${count}) ${this.baseTitle}` : this.baseTitle;
  }

  /** A message arrived: notifies when the page is hidden and the room's level asks for it. */
  message(message: Message): void {
    if (message.senderId === this.chat.me.id || message.deleted) return;
    const room = this.chat.rooms.get(message.roomId);
    if (!room) return;
    const level = this.levelOf(room);
    const mentioned = message.mentions.includes(this.chat.me.id);
    if (level === 'muted' || (level === 'mentions' && !mentioned)) return;
    const sender = this.chat.nameOf(message.senderId);
    const where = room.isDirect ? sender : this.chat.titleOf(room);
    const files = message.attachments?.length ?? 0;
    const body = message.text || (files > 0 ? `${files} file${files === 1 ? '' : 's'}` : '');
    this.show(mentioned && !room.isDirect ? `${sender} mentioned you in ${where}` : where, {
      body: room.isDirect ? body : `${sender}: ${body}`,
      tag: message.id,
      open: () => {
        location.hash = routeHash({ roomId: message.roomId, messageId: message.id });
      },
    });
  }

  /**
   * A new reply in a thread the user is in (`threadActivity`): notifies when the page is hidden,
   * unless the room is muted or the reply notified already as a message (a room set to "all", a
   * mention, a direct conversation). A room set to "mentions only" still notifies thread replies.
   */
  threadReply(activity: ThreadActivity): void {
    const { reply } = activity;
    if (reply.senderId === this.chat.me.id || reply.deleted) return;
    const room = this.chat.rooms.get(reply.roomId);
    if (!room) return;
    const level = this.levelOf(room);
    if (level === 'muted' || level === 'all' || reply.mentions.includes(this.chat.me.id)) return;
    const sender = this.chat.nameOf(reply.senderId);
    this.show(`${sender} replied in a thread in ${this.chat.titleOf(room)}`, {
      body: `${sender}: ${reply.text || 'a file'}`,
      tag: reply.id,
      open: () => {
        location.hash = routeHash({ roomId: reply.roomId, messageId: reply.parentId ?? reply.id });
      },
    });
  }

  /** A support request changed: agents hear of a new open one. */
  supportRequest(request: SupportRequest, openQueue: () => void): void {
    if (!this.chat.isAgent || request.status !== 'open' || request.agentId !== null) return;
    if (!this.chat.newRequests.has(request.id)) return;
    this.show('New support request', {
      body: `${request.customerName || 'A customer'}: ${request.subject}`,
      tag: `support-${request.id}`,
      open: openQueue,
    });
  }

  /** Stops listening. */
  dispose(): void {
    removeEventListener('storage', this.onStorage);
    this.listeners.clear();
  }

  private show(title: string, options: { body: string; tag: string; open: () => void }): void {
    if (document.visibilityState !== 'hidden' || this.permission !== 'granted') return;
    try {
      const notification = new Notification(title, { body: options.body.slice(0, 200), tag: options.tag });
      notification.onclick = () => {
        window.focus();
        options.open();
        notification.close();
      };
    } catch {
      // A browser that only notifies from a service worker: the title's count still says it.
    }
    if (this.stored.sound) beep();
  }

  private readonly onStorage = (event: StorageEvent) => {
    if (event.key !== settingsKey(this.chat.me.id)) return;
    this.stored = load(this.chat.me.id);
    this.emit();
  };

  private save(): void {
    try {
      localStorage.setItem(settingsKey(this.chat.me.id), JSON.stringify(this.stored));
    } catch {
      // Storage full or refused: the settings hold for this page.
    }
    this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}

function load(userId: string): Stored {
  try {
    const raw = JSON.parse(localStorage.getItem(settingsKey(userId)) ?? '{}') as Partial<Stored>;
    const rooms: Record<string, NotifyLevel> = {};
    for (const [id, level] of Object.entries(raw.rooms ?? {}))
      if (NOTIFY_LEVELS.some((l) => l.level === level)) rooms[id] = level as NotifyLevel;
    return { rooms, sound: raw.sound === true };
  } catch {
    return { rooms: {}, sound: false };
  }
}

/** A short, quiet tone (Web Audio: nothing to download). */
function beep(): void {
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.25);
    tone.onended = () => void audio.close();
  } catch {
    // No audio: the notification itself is enough.
  }
}

const notifiers = new WeakMap<Chat, Notifier>();

/**
 * The chat's notifier, made (and wired to the hub's `messageReceived` and `supportQueueUpdated`,
 * after the chat's own handlers) on first use.
 */
export function notifierOf(chat: Chat, baseTitle = document.title): Notifier {
  let notifier = notifiers.get(chat);
  if (!notifier) {
    const made = new Notifier(chat, baseTitle);
    notifier = made;
    notifiers.set(chat, made);
    chat.link.hub.on('messageReceived', (message: Message) => made.message(message));
    chat.link.hub.on('threadActivity', (activity: ThreadActivity) => made.threadReply(activity));
    chat.link.hub.on('supportQueueUpdated', (e: { request: SupportRequest }) =>
      made.supportRequest(e.request, () => made.openQueue()),
    );
    chat.on('rooms', () => made.renderTitle());
    chat.on('support', () => made.renderTitle());
    made.onChange(() => chat.changed('rooms'));
  }
  return notifier;
}
