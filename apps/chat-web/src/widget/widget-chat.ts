/**
 * The widget's connection to the chat: the signed-in user (a host app's token, or a guest's session
 * kept in this frame), the hub link with its reconnects, the names of the people seen, and the
 * events views listen to. Markdown is loaded only after the first message is sent (or a while
 * after the first render): until then texts show as plain text.
 * @module
 */
import type { Message, User } from '@switchboard/chat-contract';
import { ChatLink } from '../connection.ts';
import { expiryOf, type HostLink } from './host-link.ts';

/** A guest's session kept by the frame. */
export interface GuestSession {
  token: string;
  user: User;
}

/** Where the frame keeps a guest's session. */
export const GUEST_KEY = 'switchboard.widget.guest';

const memory = new Map<string, string>();

/**
 * The frame's storage: localStorage where the browser gives it to a frame of another site, else
 * memory (browsers that block third-party storage: a guest's conversation then lasts the page).
 */
export const frameStorage = {
  get(key: string): string | null {
    try {
      return localStorage.getItem(key);
    } catch {
      return memory.get(key) ?? null;
    }
  },
  set(key: string, value: string): void {
    try {
      localStorage.setItem(key, value);
    } catch {
      memory.set(key, value);
    }
  },
  remove(key: string): void {
    memory.delete(key);
    try {
      localStorage.removeItem(key);
    } catch {
      // Nothing kept there.
    }
  },
};

type Renderer = (text: string) => HTMLElement;

/** The widget's chat: who, the hub link, names, events. */
export class WidgetChat {
  readonly link: ChatLink;
  readonly users = new Map<string, User>();
  private readonly messageListeners = new Set<(m: Message) => void>();
  private readonly resumeListeners = new Set<() => void>();
  private readonly renderListeners = new Set<() => void>();
  private asked = new Set<string>();
  private renderer: Renderer | undefined;
  private markdownAsked = false;
  private guestTimer: ReturnType<typeof setTimeout> | undefined;
  private connected: (() => void) | undefined;

  constructor(
    readonly me: User,
    private tokenSource: { host: HostLink } | { guest: GuestSession },
    onState: () => void,
  ) {
    this.users.set(me.id, me);
    this.link = new ChatLink(() => this.token, {
      state: (state) => {
        if (state === 'connected') this.connected?.();
        onState();
      },
      resumed: () => {
        for (const listener of this.resumeListeners) listener();
      },
      unauthorized: () => void this.reauthorize(),
    });
    this.link.hub.on('messageReceived', (message: Message) => {
      void this.ensureUsers([message.senderId]);
      for (const listener of this.messageListeners) listener(message);
    });
    if ('guest' in tokenSource) this.scheduleGuestRefresh();
  }

  /** The token for the hub and the HTTP API. */
  get token(): string {
    return 'host' in this.tokenSource ? (this.tokenSource.host.token ?? '') : this.tokenSource.guest.token;
  }

  /** Connects; resolves once connected. */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.connected = resolve;
      this.link.start();
    });
  }

  /** Listens to new messages; returns the unsubscribe. */
  onMessage(listener: (m: Message) => void): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  /** Listens to reconnects (time to catch up); returns the unsubscribe. */
  onResumed(listener: () => void): () => void {
    this.resumeListeners.add(listener);
    return () => this.resumeListeners.delete(listener);
  }

  /** Listens to names and the text renderer arriving; returns the unsubscribe. */
  onRender(listener: () => void): () => void {
    this.renderListeners.add(listener);
    return () => this.renderListeners.delete(listener);
  }

  /** A display name. */
  nameOf(userId: string): string {
    if (userId === this.me.id) return 'You';
    return this.users.get(userId)?.displayName ?? 'Someone';
  }

  /** Asks the server for the names of users not known yet. */
  async ensureUsers(ids: string[]): Promise<void> {
    const unknown = [...new Set(ids)].filter((id) => !this.users.has(id) && !this.asked.has(id));
    if (unknown.length === 0) return;
    for (const id of unknown) this.asked.add(id);
    const users = await this.link.invoke<User[]>('getUsers', unknown).catch(() => [] as User[]);
    for (const user of users) this.users.set(user.id, user);
    this.rendered();
  }

  /** A message's text as an element: plain until markdown has loaded. */
  body(text: string): HTMLElement {
    if (this.renderer) return this.renderer(text);
    const plain = document.createElement('div');
    plain.className = 'body plain';
    plain.textContent = text;
    return plain;
  }

  /** Loads markdown a moment after the first message went out (it never delays that message). */
  loadMarkdownSoon(): void {
    if (!this.markdownAsked) setTimeout(() => this.loadMarkdown(), 3_000);
  }

  /** Loads markdown (once): after the first message sent, or a while after the first render. */
  loadMarkdown(): void {
    if (this.markdownAsked) return;
    this.markdownAsked = true;
    void import('../views/markdown.ts').then(
      ({ messageBody }) => {
        this.renderer = (text) => messageBody(text);
        this.rendered();
      },
      () => {
        this.markdownAsked = false;
      },
    );
  }

  /** Stops the link. */
  stop(): Promise<void> {
    clearTimeout(this.guestTimer);
    return this.link.stop();
  }

  private rendered(): void {
    for (const listener of this.renderListeners) listener();
  }

  /** The token was refused: a host user asks the host page for a new one and tries again. */
  private async reauthorize(): Promise<void> {
    if (!('host' in this.tokenSource)) return;
    const token = await this.tokenSource.host.requestToken();
    if (token) this.link.start();
  }

  /** A guest's token is renewed a minute before it expires. */
  private scheduleGuestRefresh(): void {
    if (!('guest' in this.tokenSource)) return;
    const expires = expiryOf(this.tokenSource.guest.token);
    if (expires === undefined) return;
    const wait = Math.max(5_000, expires - Date.now() - 60_000);
    this.guestTimer = setTimeout(() => void this.refreshGuest(), Math.min(wait, 2 ** 31 - 1));
  }

  private async refreshGuest(): Promise<void> {
    if (!('guest' in this.tokenSource)) return;
    const response = await fetch('/api/auth/refresh', {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${this.tokenSource.guest.token}`,
        'Content-Type': 'application/json',
      },
      body: '{}',
    }).catch(() => undefined);
    if (response?.ok) {
      const session = (await response.json()) as GuestSession;
      this.tokenSource = { guest: { token: session.token, user: session.user } };
      frameStorage.set(GUEST_KEY, JSON.stringify(this.tokenSource.guest));
    }
    this.scheduleGuestRefresh();
  }
}
