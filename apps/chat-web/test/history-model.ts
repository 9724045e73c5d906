/**
 * A room's history as the server keeps it, written for the tests apart from the page's store: a
 * list of messages by seq, a change log with a cursor and a purge, and the answers of
 * `getMessages` and `getChanges` as the chat server gives them. Requests can be held and answered
 * later, in any order, or failed (a lost connection), so a test decides every interleaving.
 */

import type { ChangesPage, Message, MessagesPage } from '@switchboard/chat-contract';
import type { TimelineApi } from '../src/timeline-store.ts';

/** A request the test has not answered yet. */
export interface HeldRequest {
  readonly method: 'getMessages' | 'getChanges';
  readonly args: Record<string, unknown>;
  /** The answer as the server computed it (once `process` ran), to be delivered later. */
  answer?: MessagesPage | ChangesPage;
  resolve(value: MessagesPage | ChangesPage): void;
  reject(error: Error): void;
}

/** One room on the server. */
export class HistoryModel {
  readonly messages: Message[] = [];
  private lastChange = 0;
  /** Change numbers still in the log (the log forgets the older ones when purged). */
  private readonly log: { changeSeq: number; messageId: string }[] = [];
  private oldestKept = 1;
  private ids = 0;

  constructor(readonly roomId = 'room-1') {}

  /** Stores a new message; returns it. */
  post(text: string, senderId = 'u-other'): Message {
    const seq = this.messages.length + 1;
    const message: Message = {
      id: `${this.roomId}-m${++this.ids}`,
      roomId: this.roomId,
      seq,
      senderId,
      text,
      sentAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
      reactions: [],
      mentions: [],
      clientMessageId: `c-${this.roomId}-${seq}`,
      changeSeq: 0,
    };
    this.messages.push(message);
    return message;
  }

  /** Edits a message's text; returns the new state. */
  edit(seq: number, text: string): Message {
    return this.change(seq, (m) => ({ ...m, text, editedAt: new Date(Date.UTC(2026, 1, 1)).toISOString() }));
  }

  /** Deletes a message; returns the tombstone. */
  delete(seq: number): Message {
    return this.change(seq, (m) => ({ ...m, text: '', deleted: true, reactions: [] }));
  }

  /** Toggles one user's emoji on a message; returns the new state. */
  react(seq: number, userId: string, emoji: string): Message {
    return this.change(seq, (m) => {
      const others = m.reactions.filter((r) => r.emoji !== emoji);
      const mine = m.reactions.find((r) => r.emoji === emoji);
      const userIds = mine?.userIds.includes(userId)
        ? mine.userIds.filter((u) => u !== userId)
        : [...(mine?.userIds ?? []), userId];
      return {
        ...m,
        reactions: userIds.length === 0 ? others : [...others, { emoji, count: userIds.length, userIds }],
      };
    });
  }

  /** Forgets every change logged so far (they grew older than the log keeps). */
  purge(): void {
    this.log.length = 0;
    this.oldestKept = this.lastChange + 1;
  }

  /** The message at a seq. */
  at(seq: number): Message {
    return this.messages[seq - 1]!;
  }

  /** `getMessages` as the server answers it. */
  getMessages(q: { fromSeq?: number; toSeq?: number; messageId?: string; limit?: number }): MessagesPage {
    const limit = q.limit ?? 200;
    let from = q.fromSeq;
    if (q.messageId !== undefined) {
      const linked = this.messages.find((m) => m.id === q.messageId);
      if (!linked) throw new Error('SB_CHAT_NOT_FOUND: No such message in this room.');
      from = linked.seq;
    }
    let page: Message[];
    if (from !== undefined) {
      page = this.messages.filter((m) => m.seq >= from && (q.toSeq === undefined || m.seq <= q.toSeq));
      page = page.slice(0, limit);
    } else {
      page = this.messages.filter((m) => q.toSeq === undefined || m.seq <= q.toSeq);
      page = page.slice(Math.max(0, page.length - limit));
    }
    return { roomId: this.roomId, messages: page, lastSeq: this.messages.length, cursor: this.lastChange };
  }

  /** `getChanges` as the server answers it. */
  getChanges(q: { since: number }, limit = 200): ChangesPage {
    if (q.since > this.lastChange || q.since + 1 < this.oldestKept) {
      return { roomId: this.roomId, cursor: this.lastChange, messages: [], more: false, reload: true };
    }
    const entries = this.log.filter((e) => e.changeSeq > q.since).slice(0, limit);
    const ids = new Set(entries.map((e) => e.messageId));
    return {
      roomId: this.roomId,
      cursor: entries.length > 0 ? entries[entries.length - 1]!.changeSeq : q.since,
      messages: this.messages.filter((m) => ids.has(m.id)),
      more: entries.length === limit,
      reload: false,
    };
  }

  private change(seq: number, apply: (m: Message) => Message): Message {
    const changeSeq = ++this.lastChange;
    const next = { ...apply(this.at(seq)), changeSeq };
    this.messages[seq - 1] = next;
    this.log.push({ changeSeq, messageId: next.id });
    return next;
  }
}

/** A server that answers at once, from the model. */
export function instantApi(model: HistoryModel, calls: string[] = []): TimelineApi {
  return {
    async getMessages(q) {
      calls.push(`getMessages ${JSON.stringify({ ...q, roomId: undefined })}`);
      return model.getMessages(q);
    },
    async getChanges(q) {
      calls.push(`getChanges ${q.since}`);
      return model.getChanges(q);
    },
  };
}

/** A server whose requests wait for the test: `held` lists them in the order they were made. */
export function heldApi(): { api: TimelineApi; held: HeldRequest[] } {
  const held: HeldRequest[] = [];
  const hold = <T extends MessagesPage | ChangesPage>(
    method: HeldRequest['method'],
    args: Record<string, unknown>,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      held.push({
        method,
        args,
        resolve: resolve as (v: MessagesPage | ChangesPage) => void,
        reject,
      });
    });
  return {
    held,
    api: {
      getMessages: (q) => hold<MessagesPage>('getMessages', q),
      getChanges: (q) => hold<ChangesPage>('getChanges', q),
    },
  };
}

/** Computes a held request's answer now (the server reads its state). */
export function process(model: HistoryModel, request: HeldRequest): void {
  request.answer ??=
    request.method === 'getMessages'
      ? model.getMessages(request.args as { fromSeq?: number })
      : model.getChanges(request.args as { since: number });
}

/** Lets pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
