/**
 * The chat's state in the page and every action on it: rooms with read state, presence, typing, the
 * support queue, and every room's timeline through the one {@link TimelineStore} (every way into a
 * room goes through it: the view never shows a hole). Hub events update it; after a reconnect, or
 * when the tab wakes up, the store catches up. Views subscribe with {@link Chat.on}.
 * @module
 */

import type {
  AgentInfo,
  ChangesPage,
  Message,
  MessagesPage,
  Presence,
  ReadState,
  Room,
  RoomSummary,
  SupportRequest,
  ThreadPage,
  ThreadRead,
  User,
} from '@switchboard/chat-contract';
import { ChatLink, type LinkState } from './connection.ts';
import { wireChatEvents } from './events.ts';
import { ApiError, loadSession, type Session } from './session.ts';
import type { Timeline } from './timeline.ts';
import { type OpenAt, TimelineStore } from './timeline-store.ts';

/** What changed, for views to re-render only their part. */
export type Topic = 'rooms' | 'timeline' | 'link' | 'typing' | 'presence' | 'support' | 'members';

/** A new clientMessageId. */
export function newClientMessageId(): string {
  return typeof crypto.randomUUID === 'function'
    ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** The signed-in chat. */
/** A room summary whose read state this tab updates as messages and read markers arrive. */
type Writable<T> = { -readonly [K in keyof T]: T[K] };

export class Chat {
  readonly link: ChatLink;
  readonly rooms = new Map<string, Writable<RoomSummary>>();
  /** Every room's timeline. */
  readonly store: TimelineStore;
  readonly users = new Map<string, User>();
  /** The caller's read marker in each thread they have one in, by the thread's first message. */
  readonly threadReads = new Map<string, number>();
  readonly members = new Map<string, string[]>();
  readonly presence = new Map<string, boolean>();
  readonly queue = new Map<string, SupportRequest>();
  agents: AgentInfo[] = [];
  /** The customer's own support request, as last seen. */
  myRequest: SupportRequest | undefined;
  /** The room shown, if any. */
  current: string | undefined;
  /** Whether the support queue is on screen (set by the shell). */
  viewingQueue = false;
  /** Support requests that arrived while the agent was elsewhere, not yet seen in the queue. */
  readonly newRequests = new Map<string, SupportRequest>();
  /** User ids asked of the server by {@link rememberSenders} (those it did not name stay here). */
  private readonly askedUsers = new Set<string>();
  /** Where the room shown was opened: the first unread message, or a linked one. */
  focus: { roomId: string; seq: number; messageId?: string } | undefined;
  /** The room being opened at a message, until {@link focus} is known. */
  focusPending: string | undefined;
  private readonly seenAsked = new Map<string, number>();
  private readonly typingUntil = new Map<string, Map<string, number>>();
  private readonly listeners = new Map<Topic, Set<() => void>>();
  private readonly dirty = new Set<Topic>();
  private flushing = false;

  constructor(
    readonly session: Session,
    onUnauthorized: () => void = () => {},
  ) {
    this.users.set(session.user.id, session.user);
    // The newest token of this browser: another tab may have refreshed it.
    this.link = new ChatLink(() => this.token, {
      state: () => this.changed('link'),
      resumed: () => void this.catchUp(),
      unauthorized: onUnauthorized,
      signedIn: () => loadSession() !== undefined,
    });
    this.store = new TimelineStore(
      {
        getMessages: (query) => this.link.invoke<MessagesPage>('getMessages', query),
        getChanges: (query) => this.link.invoke<ChangesPage>('getChanges', query),
      },
      () => this.changed('timeline'),
    );
    wireChatEvents(this);
    const saved = localStorage.getItem(this.requestKey());
    if (saved) this.myRequest = JSON.parse(saved) as SupportRequest;
  }

  /** The token for the hub: the stored one when it belongs to the same user, else the session's. */
  get token(): string {
    const stored = loadSession();
    return stored && stored.user.id === this.session.user.id ? stored.token : this.session.token;
  }

  get me(): User {
    return this.session.user;
  }

  get linkState(): LinkState {
    return this.link.state;
  }

  /** Whether the signed-in user works the support queue. */
  get isAgent(): boolean {
    return this.me.role === 'agent' || this.me.role === 'admin';
  }

  /** Subscribes to a topic; returns the unsubscribe. */
  on(topic: Topic, listener: () => void): () => void {
    let set = this.listeners.get(topic);
    if (!set) {
      set = new Set();
      this.listeners.set(topic, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Connects and loads the rooms. */
  async start(): Promise<void> {
    const connected = new Promise<void>((resolve) => {
      const off = this.on('link', () => {
        if (this.link.state === 'connected') {
          off();
          resolve();
        }
      });
    });
    this.link.start();
    // A tab woken up (shown again, or resumed after the browser froze it) catches the room up.
    const wake = () => {
      if (document.visibilityState === 'visible' && this.current) void this.store.resync(this.current);
    };
    document.addEventListener('visibilitychange', wake);
    document.addEventListener('resume', wake);
    await connected;
    await this.loadRooms();
  }

  /** Disconnects. */
  stop(): Promise<void> {
    return this.link.stop();
  }

  /** A display name for a user id. */
  nameOf(userId: string, unknown = 'Someone'): string {
    return this.users.get(userId)?.displayName ?? unknown;
  }

  /** The room's title: for a direct conversation, the other people's names. */
  titleOf(room: Room): string {
    if (!room.isDirect) return room.name;
    const others = (this.members.get(room.id) ?? []).filter((id) => id !== this.me.id);
    if (others.length === 0) return this.members.has(room.id) ? `${this.me.displayName} (you)` : room.name;
    return others.map((id) => this.nameOf(id)).join(', ');
  }

  /** The timeline of a room (created empty). */
  timeline(roomId: string): Timeline {
    return this.store.timeline(roomId);
  }

  /** Notes that a user types in a room, for `ms` from now (0: stopped). */
  noteTyping(roomId: string, userId: string, ms: number): void {
    let map = this.typingUntil.get(roomId);
    if (!map) {
      map = new Map();
      this.typingUntil.set(roomId, map);
    }
    if (ms > 0) map.set(userId, Date.now() + ms);
    else map.delete(userId);
  }

  /** Who is typing in a room now (not the caller). */
  typingIn(roomId: string): string[] {
    const now = Date.now();
    return [...(this.typingUntil.get(roomId) ?? new Map<string, number>())]
      .filter(([, until]) => until > now)
      .map(([userId]) => userId);
  }

  /** Reloads the side list. */
  async loadRooms(): Promise<void> {
    const rooms = await this.link.invoke<RoomSummary[]>('listRooms');
    this.rooms.clear();
    for (const room of rooms) this.rooms.set(room.id, { ...room });
    this.changed('rooms');
    const directs = rooms.filter((r) => r.isDirect || r.kind === 'support');
    await Promise.all(directs.map((r) => this.loadMembers(r.id).catch(() => undefined)));
    await this.refreshPresence();
    if (this.isAgent) await this.loadQueue();
  }

  /** Loads a room's members (and their names). */
  async loadMembers(roomId: string): Promise<User[]> {
    const members = await this.link.invoke<User[]>('listRoomMembers', roomId);
    for (const user of members) this.users.set(user.id, user);
    this.members.set(
      roomId,
      members.map((m) => m.id),
    );
    this.changed('members');
    this.changed('rooms');
    return members;
  }

  /** Asks for the presence of everyone in the caller's direct conversations. */
  async refreshPresence(): Promise<void> {
    const ids = new Set<string>();
    for (const [roomId, memberIds] of this.members) {
      if (!this.rooms.get(roomId)?.isDirect && this.rooms.get(roomId)?.kind !== 'support') continue;
      for (const id of memberIds) if (id !== this.me.id) ids.add(id);
    }
    if (ids.size === 0) return;
    const list = await this.link.invoke<Presence[]>('getPresence', [...ids]);
    for (const p of list) this.presence.set(p.userId, p.online);
    this.changed('presence');
  }

  /**
   * Shows a room (every way in: the list, a join, an invite, the support queue, a reload, a link, a
   * search result): the store loads it or catches it up, at `at` or else at the first unread
   * message. The read marker does not move here: the view moves it as messages are seen. Never
   * rejects.
   */
  async open(roomId: string | undefined, at?: OpenAt): Promise<void> {
    const room = roomId ? this.rooms.get(roomId) : undefined;
    const firstUnread = room && room.unreadCount > 0 ? room.lastReadSeq + 1 : undefined;
    const target = at ?? (firstUnread === undefined ? undefined : { seq: firstUnread });
    const messageId = target && 'messageId' in target ? target.messageId : undefined;
    this.current = roomId;
    this.focus = undefined;
    this.focusPending = target ? roomId : undefined;
    this.changed('rooms');
    this.changed('timeline');
    this.changed('members');
    if (!roomId) return;
    try {
      const seq = await this.store.open(roomId, target).finally(() => {
        if (this.focusPending === roomId) this.focusPending = undefined;
      });
      if (this.current === roomId && seq !== undefined) {
        this.focus = { roomId, seq, ...(messageId ? { messageId } : {}) };
      }
      this.changed('timeline');
      this.rememberSenders(this.timeline(roomId).messages());
      if (!this.members.has(roomId)) await this.loadMembers(roomId).catch(() => undefined);
    } catch {
      // Not connected: catchUp() opens the room after reconnecting.
    }
  }

  /** Loads the page before the oldest loaded message; false when there is none. */
  async loadOlder(roomId: string): Promise<boolean> {
    const added = await this.store.loadOlder(roomId);
    this.rememberSenders(this.timeline(roomId).messages());
    return added;
  }

  /** Moves the read marker to `seq`, a message the reader has seen (never back). */
  async markSeen(roomId: string, seq: number): Promise<void> {
    const room = this.rooms.get(roomId);
    if (!room || seq <= room.lastReadSeq) return;
    const already = this.seenAsked.get(roomId) ?? 0;
    if (seq <= already) return;
    this.seenAsked.set(roomId, seq);
    try {
      this.applyRead(await this.link.invoke<ReadState>('markRead', { roomId, seq }));
    } catch {
      // Not connected: asked again when the reader sees a message next.
      if (this.seenAsked.get(roomId) === seq) this.seenAsked.set(roomId, already);
    }
  }

  /** Sends a message optimistically; a failed send stays in the list to be retried. */
  async send(
    roomId: string,
    text: string,
    attachmentIds: readonly string[] = [],
    parentId?: string,
  ): Promise<void> {
    const pending = {
      clientMessageId: newClientMessageId(),
      roomId,
      text,
      status: 'sending' as const,
      ...(attachmentIds.length > 0 ? { attachmentIds } : {}),
      ...(parentId ? { parentId } : {}),
    };
    this.timeline(roomId).addPending(pending);
    this.changed('timeline');
    await this.deliver(roomId, pending.clientMessageId);
  }

  /**
   * Sends a message that is not sent yet again, with the same clientMessageId (stored at most once).
   * While disconnected it stays waiting (and the connection is tried at once): the reconnect sends it.
   */
  async retry(roomId: string, clientMessageId: string): Promise<void> {
    const pending = this.timeline(roomId).pendingOf(clientMessageId);
    if (!pending) return;
    if (this.link.state !== 'connected') {
      void this.link.reconnectNow().catch(() => undefined);
      return;
    }
    pending.status = 'sending';
    pending.error = undefined;
    this.changed('timeline');
    await this.deliver(roomId, clientMessageId);
  }

  private async deliver(roomId: string, clientMessageId: string): Promise<void> {
    const timeline = this.timeline(roomId);
    const pending = timeline.pendingOf(clientMessageId);
    if (!pending) return;
    if (this.link.state !== 'connected') {
      // Not even tried: it goes out once the connection is back (catchUp → retryFailed).
      pending.status = 'waiting';
      this.changed('timeline');
      return;
    }
    try {
      const room = this.rooms.get(roomId);
      const active = this.myRequest?.status === 'open' || this.myRequest?.status === 'assigned';
      const stored =
        room?.kind === 'support' && this.me.isGuest && !active
          ? await this.openSupport(this.myRequest?.subject ?? 'Support', pending.text)
          : await this.link.invoke<Message>('sendMessage', {
              roomId,
              text: pending.text,
              clientMessageId,
              ...(pending.attachmentIds ? { attachmentIds: pending.attachmentIds } : {}),
              ...(pending.parentId ? { parentId: pending.parentId } : {}),
            });
      this.store.receive(stored);
      // openSupportRequest stores the text under the server's own clientMessageId.
      if (stored.clientMessageId !== clientMessageId) timeline.removePending(clientMessageId);
      this.noteMessage(stored, true);
    } catch (error) {
      // The server refused it (a reason to show), or the connection went (it waits for the next).
      pending.status = isRefusal(error) ? 'failed' : 'waiting';
      pending.error = isRefusal(error) ? errorText(error) : undefined;
    }
    this.changed('timeline');
  }

  /** Sends every message not sent yet again (after a reconnect). */
  async retryFailed(): Promise<void> {
    for (const roomId of this.store.roomIds()) {
      for (const p of this.timeline(roomId).pending())
        if (p.status !== 'sending') await this.retry(roomId, p.clientMessageId);
    }
  }

  /** The caller's own newest message in a room that can still be edited. */
  lastOwnMessage(roomId: string): Message | undefined {
    const messages = this.timeline(roomId).messages();
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i]!;
      if (m.senderId === this.me.id && !m.deleted) return m;
    }
    return undefined;
  }

  /** Edits one of the caller's messages. */
  async edit(messageId: string, text: string): Promise<void> {
    const message = await this.link.invoke<Message>('editMessage', { messageId, text });
    this.store.change({
      roomId: message.roomId,
      messageId,
      changeSeq: message.changeSeq ?? 0,
      apply: () => message,
    });
  }

  /** Deletes a message. */
  async remove(messageId: string): Promise<void> {
    await this.link.invoke('deleteMessage', { messageId });
  }

  /** A thread: its first message and replies (see the hub's `getThread`). */
  getThread(messageId: string): Promise<ThreadPage> {
    return this.link.invoke<ThreadPage>('getThread', { messageId });
  }

  /** Loads the caller's read markers in a room's threads. */
  async loadThreadReads(roomId: string): Promise<void> {
    for (const read of await this.link.invoke<ThreadRead[]>('listThreadReads', roomId))
      this.applyThreadRead(read);
  }

  /** Moves the caller's marker in a thread to `seq` (when it is further). */
  async markThreadRead(messageId: string, seq: number): Promise<void> {
    if (seq <= (this.threadReads.get(messageId) ?? 0)) return;
    this.applyThreadRead(await this.link.invoke<ThreadRead>('markThreadRead', { messageId, seq }));
  }

  /** Records a thread marker (from an answer or `threadReadUpdated`). */
  applyThreadRead(read: ThreadRead): void {
    if (read.lastReadSeq < (this.threadReads.get(read.messageId) ?? -1)) return;
    this.threadReads.set(read.messageId, read.lastReadSeq);
    this.changed('timeline');
  }

  /** Whether a thread has replies after the caller's marker (only threads the caller has one in). */
  threadUnread(message: Message): boolean {
    const read = this.threadReads.get(message.id);
    return read !== undefined && (message.lastReplySeq ?? 0) > read;
  }

  /** Adds or takes back a reaction. */
  async react(messageId: string, emoji: string): Promise<void> {
    await this.link.invoke('react', { messageId, emoji });
  }

  /** Tells the room the caller is typing (a send: no answer). */
  typing(roomId: string): void {
    if (this.link.state === 'connected') void this.link.hub.send('typing', roomId).catch(() => undefined);
  }

  /** Creates a room and opens it. */
  async createRoom(name: string, isPrivate: boolean): Promise<Room> {
    const room = await this.link.invoke<Room>('createRoom', { name, isPrivate });
    await this.loadRooms();
    await this.open(room.id);
    return room;
  }

  /** Joins a public room and opens it. */
  async joinRoom(roomId: string): Promise<void> {
    await this.link.invoke('joinRoom', roomId);
    await this.loadRooms();
    await this.open(roomId);
  }

  /** Leaves a room. */
  async leaveRoom(roomId: string): Promise<void> {
    await this.link.invoke('leaveRoom', roomId);
    this.rooms.delete(roomId);
    this.store.forget(roomId);
    if (this.current === roomId) await this.open(undefined);
    this.changed('rooms');
  }

  /** Invites a user to a room. */
  async invite(roomId: string, userId: string): Promise<void> {
    await this.link.invoke('inviteToRoom', roomId, userId);
    await this.loadMembers(roomId);
  }

  /** Opens (or finds) the direct conversation with these users and shows it. */
  async openDirect(userIds: string[]): Promise<Room> {
    const room = await this.link.invoke<Room>('openDirect', userIds);
    await this.loadRooms();
    await this.open(room.id);
    return room;
  }

  /** Public rooms to browse. */
  listPublicRooms(): Promise<Room[]> {
    return this.link.invoke<Room[]>('listPublicRooms');
  }

  /** People by name. */
  async searchUsers(query: string): Promise<User[]> {
    const users = await this.link.invoke<User[]>('searchUsers', query);
    for (const user of users) this.users.set(user.id, user);
    return users;
  }

  /** Full-text search over the caller's rooms. */
  searchMessages(query: string): Promise<Message[]> {
    return this.link.invoke<Message[]>('searchMessages', { query });
  }

  /** A customer's first message to support (or the next one of an open request). */
  async openSupport(subject: string, text: string): Promise<Message> {
    const result = await this.link.invoke<SupportRequest & { message: Message }>('openSupportRequest', {
      subject,
      text,
    });
    const { message, ...request } = result;
    this.setMyRequest(request);
    if (!this.rooms.has(request.roomId)) await this.loadRooms();
    this.store.receive(message);
    return message;
  }

  /** The support queue and the agents (agents). */
  async loadQueue(): Promise<void> {
    const [queue, agents] = await Promise.all([
      this.link.invoke<SupportRequest[]>('listSupportQueue'),
      this.link.invoke<AgentInfo[]>('listAgents'),
    ]);
    this.queue.clear();
    for (const r of queue) this.queue.set(r.id, r);
    this.agents = agents;
    for (const a of agents) this.users.set(a.id, a);
    this.changed('support');
  }

  /** The open or assigned support request of a support room, as the queue shows it (agents). */
  requestOfRoom(roomId: string): SupportRequest | undefined {
    return [...this.queue.values()].find((r) => r.roomId === roomId && r.status !== 'closed');
  }

  /** A request changed in the queue: a new one counts as unseen until the queue is looked at. */
  noteQueueUpdate(request: SupportRequest, seeing: boolean): void {
    const isNew = request.status === 'open' && !this.queue.has(request.id);
    if (request.status === 'closed') this.queue.delete(request.id);
    else this.queue.set(request.id, request);
    if (request.status !== 'open') this.newRequests.delete(request.id);
    else if (isNew && !seeing && this.isAgent) this.newRequests.set(request.id, request);
    this.changed('support');
  }

  /** The agent looked at the queue: no request is new any more. */
  seenQueue(): void {
    if (this.newRequests.size === 0) return;
    this.newRequests.clear();
    this.changed('support');
  }

  /** Claims, transfers or closes a support request (agents). */
  async support(action: 'claim' | 'close' | 'transfer', requestId: string, agentId?: string): Promise<void> {
    if (action === 'claim') await this.link.invoke('claimSupportRequest', requestId);
    else if (action === 'close') await this.link.invoke('closeSupportRequest', requestId);
    else await this.link.invoke('transferSupportRequest', requestId, agentId);
    await this.loadQueue();
  }

  /** After a reconnect: the side list again, the room shown opened again, every other loaded room caught up. */
  async catchUp(): Promise<void> {
    try {
      await this.loadRooms();
      for (const roomId of this.store.roomIds()) {
        if (!this.rooms.has(roomId)) this.store.forget(roomId);
        else if (roomId !== this.current) void this.store.resync(roomId).catch(() => undefined);
      }
      if (this.current) await this.open(this.current, this.focus ? { seq: this.focus.seq } : undefined);
      await this.retryFailed();
    } catch {
      // The connection dropped again: the next reconnect catches up.
    }
  }

  /** Reloads the agents and their load (agents). */
  async loadAgents(): Promise<void> {
    this.agents = await this.link.invoke<AgentInfo[]>('listAgents').catch(() => this.agents);
    this.changed('support');
  }

  /** Keeps the customer's own request (also for reloads). */
  setMyRequest(request: SupportRequest): void {
    this.myRequest = request;
    localStorage.setItem(this.requestKey(), JSON.stringify(request));
    this.changed('support');
  }

  private requestKey(): string {
    return `switchboard.support.${this.me.id}`;
  }

  /** Takes the server's read state of a room (from any of the user's tabs). */
  applyRead(state: ReadState): void {
    const room = this.rooms.get(state.roomId);
    if (!room || state.lastReadSeq < room.lastReadSeq) return;
    room.lastReadSeq = state.lastReadSeq;
    room.unreadCount = state.unreadCount;
    room.mentionCount = state.mentionCount;
    this.changed('rooms');
    this.changed('timeline');
  }

  /** Updates the side list for a new message: last message and, from others, unread counts. */
  noteMessage(message: Message, own: boolean): void {
    const room = this.rooms.get(message.roomId);
    if (!room) {
      void this.loadRooms().catch(() => undefined);
      return;
    }
    const newest = (room.lastMessage?.seq ?? 0) < message.seq;
    if (newest) room.lastMessage = message;
    const fromOther = !own && message.senderId !== this.me.id;
    // Unread until the reader sees it, in the room shown too (the view marks what is seen).
    if (newest && fromOther && message.seq > room.lastReadSeq) {
      room.unreadCount += 1;
      if (message.mentions.includes(this.me.id)) room.mentionCount += 1;
    }
    this.changed('rooms');
  }

  /**
   * Asks the server for the names of senders not known yet (`getUsers`: also people who have left,
   * such as an agent after a transfer), so no message shows "Someone" after a reload.
   */
  rememberSenders(messages: readonly Message[]): void {
    const unknown = [...new Set(messages.map((m) => m.senderId))].filter(
      (id) => !this.users.has(id) && !this.askedUsers.has(id),
    );
    if (unknown.length === 0) return;
    for (const id of unknown) this.askedUsers.add(id);
    this.link.invoke<User[]>('getUsers', unknown).then(
      (users) => {
        for (const user of users) this.users.set(user.id, user);
        this.changed('timeline');
        this.changed('members');
      },
      () => {
        // Not connected: ask again with the next messages or the catch-up.
        for (const id of unknown) this.askedUsers.delete(id);
      },
    );
  }

  /** Records that a topic changed; listeners run once per microtask for any number of changes. */
  changed(topic: Topic): void {
    this.dirty.add(topic);
    if (this.flushing) return;
    this.flushing = true;
    queueMicrotask(() => {
      this.flushing = false;
      const topics = [...this.dirty];
      this.dirty.clear();
      for (const t of topics) for (const listener of this.listeners.get(t) ?? []) listener();
    });
  }
}

/** Whether an error is the server's answer (a refusal or its failure), not a lost connection. */
export function isRefusal(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof ApiError || /SB_CHAT_[A-Z_]+: |An unexpected error occurred invoking/.test(message);
}

/**
 * What to tell a person about a failure, in plain words: the server's own sentence for a refusal
 * (`SB_CHAT_…: text` → text), never the client library's technical text.
 */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  const match = /SB_CHAT_[A-Z_]+: (.+)$/s.exec(message);
  if (match?.[1]) return match[1];
  if (isRefusal(error)) return 'Something went wrong on the server. Please try again.';
  return 'Not connected to the server right now. Please try again in a moment.';
}
