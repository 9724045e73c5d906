/**
 * The one place that owns every room's timeline in the page. Each room's view is a contiguous run
 * of the room's sequence numbers that reaches its newest message; whatever would add a message that
 * is not next to the run (a live event after a leave and a join, a reclaimed support request, a
 * reconnect, a tab woken from sleep, a room opened from a link or a search) first fetches the
 * missing range, so the view never shows a hole. Edits, deletions and reactions missed while away
 * come by the room's change cursor (`getChanges`); a cursor older than the server's change log
 * reloads the room. Fetches of one room run one at a time, in order.
 * @module
 */

import type { ChangesPage, Message, MessagesPage } from '@switchboard/chat-contract';
import { Timeline } from './timeline.ts';

/** The hub methods the store reads through. */
export interface TimelineApi {
  getMessages(query: {
    roomId: string;
    fromSeq?: number;
    toSeq?: number;
    messageId?: string;
    limit?: number;
  }): Promise<MessagesPage>;
  getChanges(query: { roomId: string; since: number }): Promise<ChangesPage>;
}

/** A change to one message as a live event tells it. */
export interface MessageChange {
  readonly roomId: string;
  readonly messageId: string;
  /** The change's number in the room's change log (0 when the server sent none). */
  readonly changeSeq: number;
  apply(message: Message): Message;
}

/** Where to open a room: at a seq, at a message (a link), or (nothing) at the newest. */
export type OpenAt = { readonly seq: number } | { readonly messageId: string } | undefined;

/** How many messages one fetch asks for. */
export const PAGE = 50;
/** The most messages one fetch may ask for (the server's limit). */
export const MAX_PAGE = 200;
/** How many messages the view holds before the one it opens at. */
export const CONTEXT = 20;
/** Beyond this many missing messages, the room is loaded anew from its newest page. */
export const MAX_FILL = 2000;

/** Every room's timeline, and the rule that keeps each without a hole. */
export class TimelineStore {
  private readonly rooms = new Map<string, Timeline>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly busy = new Map<string, number>();
  /** Live changes of messages not held yet, seen while a fetch of their room was on its way. */
  private readonly early = new Map<string, Map<string, MessageChange>>();

  constructor(
    private readonly api: TimelineApi,
    /** Called whenever a room's timeline changed. */
    private readonly changed: (roomId: string) => void = () => {},
  ) {}

  /** The timeline of a room (created empty). */
  timeline(roomId: string): Timeline {
    let timeline = this.rooms.get(roomId);
    if (!timeline) {
      timeline = new Timeline();
      this.rooms.set(roomId, timeline);
    }
    return timeline;
  }

  /** The rooms that have a timeline. */
  roomIds(): string[] {
    return [...this.rooms.keys()];
  }

  /** Whether a fetch of the room is on its way or queued. */
  isBusy(roomId: string): boolean {
    return (this.busy.get(roomId) ?? 0) > 0;
  }

  /** Resolves when every queued fetch of the room has ended. */
  async idle(roomId: string): Promise<void> {
    while (this.isBusy(roomId)) await this.queues.get(roomId)?.catch(() => undefined);
  }

  /**
   * Every way into a room (open, join, rejoin, invite, reclaim, reconnect, reload, a link, a search
   * result): loads it when it is not, else fetches what it missed (new messages, then changes); and
   * makes sure `at` is held. Resolves with the seq to show (`at`'s), if any.
   */
  open(roomId: string, at?: OpenAt): Promise<number | undefined> {
    return this.enqueue(roomId, async () => {
      const timeline = this.timeline(roomId);
      let seq = at && 'seq' in at ? at.seq : undefined;
      if (at && 'messageId' in at) {
        const held = timeline.get(at.messageId);
        seq =
          held?.seq ??
          (await this.api.getMessages({ roomId, messageId: at.messageId, limit: 1 })).messages[0]?.seq;
      }
      if (!timeline.loaded) await this.load(roomId, seq);
      else {
        await this.fillForward(roomId);
        await this.syncChanges(roomId);
        if (seq !== undefined) await this.reachBack(roomId, Math.max(1, seq - CONTEXT));
      }
      return seq;
    });
  }

  /** Catches a loaded room up (reconnect, a tab woken up); a room not loaded is left alone. */
  async resync(roomId: string): Promise<void> {
    if (!this.rooms.get(roomId)?.loaded && !this.isBusy(roomId)) return;
    await this.open(roomId);
  }

  /** Forgets a room (left, removed): opening it again loads it anew. Pending sends are kept. */
  forget(roomId: string): void {
    const timeline = this.rooms.get(roomId);
    if (!timeline) return;
    timeline.reset();
    this.changed(roomId);
  }

  /** Loads the page before the first held message; false when there is none. */
  loadOlder(roomId: string): Promise<boolean> {
    return this.enqueue(roomId, async () => {
      const timeline = this.timeline(roomId);
      if (!timeline.hasOlder) return false;
      const page = await this.api.getMessages({ roomId, toSeq: timeline.firstSeq() - 1, limit: PAGE });
      this.take(roomId, page.messages);
      return page.messages.length > 0;
    });
  }

  /**
   * A message as a live event (or a send's answer) brings it. Next to the run: added at once.
   * Further on: the missing range is fetched first. Older than the run, or a room not loaded: left
   * for when they are fetched.
   */
  receive(message: Message): void {
    const timeline = this.rooms.get(message.roomId);
    if (!timeline || (!timeline.loaded && !this.isBusy(message.roomId))) return;
    if (timeline.get(message.id)) {
      if (timeline.put(message)) this.changed(message.roomId);
      return;
    }
    if (!this.isBusy(message.roomId) && message.seq === timeline.lastSeq() + 1) {
      timeline.accept([message]);
      this.changed(message.roomId);
      return;
    }
    void this.enqueue(message.roomId, async () => {
      if (!timeline.loaded) return;
      if (message.seq > timeline.lastSeq() + 1) await this.fillForward(message.roomId);
      if (message.seq >= timeline.firstSeq()) this.take(message.roomId, [message]);
    }).catch(() => undefined);
  }

  /** An edit, deletion or reaction change as a live event brings it. */
  change(change: MessageChange): void {
    const timeline = this.rooms.get(change.roomId);
    if (!timeline) return;
    if (timeline.get(change.messageId)) {
      if (timeline.change(change.messageId, change.changeSeq, change.apply)) this.changed(change.roomId);
    } else if (this.isBusy(change.roomId)) {
      let early = this.early.get(change.roomId);
      if (!early) {
        early = new Map();
        this.early.set(change.roomId, early);
      }
      const known = early.get(change.messageId);
      if (!known || known.changeSeq < change.changeSeq) early.set(change.messageId, change);
    }
  }

  /** Runs one fetch of a room after the ones before it. */
  private enqueue<T>(roomId: string, task: () => Promise<T>): Promise<T> {
    this.busy.set(roomId, (this.busy.get(roomId) ?? 0) + 1);
    const previous = this.queues.get(roomId) ?? Promise.resolve();
    const run = previous
      .catch(() => undefined)
      .then(task)
      .finally(() => {
        const left = (this.busy.get(roomId) ?? 1) - 1;
        if (left > 0) this.busy.set(roomId, left);
        else {
          this.busy.delete(roomId);
          this.early.delete(roomId);
        }
      });
    this.queues.set(roomId, run);
    return run;
  }

  /** Loads a room: its newest page (with the change cursor), then back to `seq` when given. */
  private async load(roomId: string, seq: number | undefined): Promise<void> {
    const timeline = this.timeline(roomId);
    const page = await this.api.getMessages({ roomId, limit: PAGE });
    timeline.reset();
    timeline.cursor = page.cursor;
    timeline.loaded = true;
    this.take(roomId, page.messages);
    if (seq !== undefined) await this.reachBack(roomId, Math.max(1, seq - CONTEXT, page.lastSeq - MAX_FILL));
  }

  /** Fetches older pages until `seq` is held. */
  private async reachBack(roomId: string, seq: number): Promise<void> {
    const timeline = this.timeline(roomId);
    while (timeline.loaded && timeline.firstSeq() > seq) {
      const toSeq = timeline.firstSeq() - 1;
      const page = await this.api.getMessages({
        roomId,
        fromSeq: Math.max(seq, toSeq - MAX_PAGE + 1),
        toSeq,
        limit: MAX_PAGE,
      });
      if (page.messages.length === 0) break;
      this.take(roomId, page.messages);
    }
  }

  /** Fetches from the run's end to the room's newest message (or loads the room anew when far behind). */
  private async fillForward(roomId: string): Promise<void> {
    const timeline = this.timeline(roomId);
    for (;;) {
      const page = await this.api.getMessages({ roomId, fromSeq: timeline.lastSeq() + 1, limit: MAX_PAGE });
      if (page.lastSeq - timeline.lastSeq() > MAX_FILL) {
        await this.load(roomId, undefined);
        return;
      }
      this.take(roomId, page.messages);
      if (page.messages.length === 0 || timeline.lastSeq() >= page.lastSeq) return;
    }
  }

  /** Applies every change after the room's cursor; reloads the room when the cursor is too old. */
  private async syncChanges(roomId: string): Promise<void> {
    const timeline = this.timeline(roomId);
    for (;;) {
      const page = await this.api.getChanges({ roomId, since: timeline.cursor });
      if (page.reload) {
        await this.load(roomId, undefined);
        return;
      }
      for (const message of page.messages) timeline.put(message);
      timeline.cursor = Math.max(timeline.cursor, page.cursor);
      this.changed(roomId);
      if (!page.more) return;
    }
  }

  /** Adds fetched messages to the run, with the live changes seen while they were on their way. */
  private take(roomId: string, messages: readonly Message[]): void {
    const timeline = this.timeline(roomId);
    if (!timeline.accept(messages)) throw new Error(`A fetched page of room ${roomId} is not contiguous.`);
    const early = this.early.get(roomId);
    for (const m of early ? messages : []) {
      const change = early!.get(m.id);
      if (change) timeline.change(m.id, change.changeSeq, change.apply);
    }
    this.changed(roomId);
  }
}
