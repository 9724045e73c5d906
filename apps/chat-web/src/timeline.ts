/**
 * One room's timeline as the page holds it: a contiguous run of the room's sequence numbers
 * (`firstSeq()..lastSeq()`, never a hole), each message once in its newest known state (the higher
 * `changeSeq` wins), the room's change cursor, and the sends still on their way or failed. It is
 * data only: {@link TimelineStore} decides what goes in.
 * @module
 */
import type { Message } from '@switchboard/chat-contract';

/** A message sent from this page and not yet confirmed by the server. */
export interface PendingMessage {
  readonly clientMessageId: string;
  readonly roomId: string;
  readonly text: string;
  /** The files sent with it (uploaded already). */
  readonly attachmentIds?: readonly string[];
  /** A reply: the thread's first message. */
  readonly parentId?: string;
  /** On its way; waiting for the connection (sent when it is back); or refused by the server. */
  status: 'sending' | 'waiting' | 'failed';
  error?: string;
}

/** The version of a message: the number of its latest change. */
export function versionOf(message: Message): number {
  return message.changeSeq ?? 0;
}

/** A room's loaded messages. */
export class Timeline {
  private run: Message[] = [];
  private readonly byId = new Map<string, Message>();
  private readonly pendingSends = new Map<string, PendingMessage>();
  private readonly storedClientIds = new Set<string>();
  /** Whether the room has been loaded (its newest messages are in the run). */
  loaded = false;
  /** Every change up to this number is reflected in the run. */
  cursor = 0;

  /** Whether older messages than the first held one exist. */
  get hasOlder(): boolean {
    return this.loaded && this.firstSeq() > 1;
  }

  /**
   * Takes a contiguous page (ascending seq) that overlaps or touches the run, or any page when the
   * run is empty; returns false (taking nothing) for a page that would leave a hole.
   */
  accept(page: readonly Message[]): boolean {
    if (page.length === 0) return true;
    for (let i = 1; i < page.length; i++) if (page[i]!.seq !== page[i - 1]!.seq + 1) return false;
    if (this.run.length === 0) {
      this.run = [...page];
      for (const m of page) this.index(m);
      return true;
    }
    const lo = this.firstSeq();
    const hi = this.lastSeq();
    if (page[0]!.seq > hi + 1 || page[page.length - 1]!.seq < lo - 1) return false;
    for (const m of page) if (m.seq >= lo && m.seq <= hi) this.put(m);
    const before = page.filter((m) => m.seq < lo);
    const after = page.filter((m) => m.seq > hi);
    this.run = [...before, ...this.run, ...after];
    for (const m of [...before, ...after]) this.index(m);
    return true;
  }

  /** Replaces a held message by a newer copy (a higher or equal `changeSeq`); false when not held. */
  put(message: Message): boolean {
    const known = this.byId.get(message.id);
    if (!known) return false;
    if (versionOf(message) < versionOf(known)) return true;
    const at = message.seq - this.firstSeq();
    this.run = this.run.slice();
    this.run[at] = message;
    this.index(message);
    return true;
  }

  /** Changes a held message when the change is newer than what is held. */
  change(messageId: string, changeSeq: number, apply: (message: Message) => Message): boolean {
    const known = this.byId.get(messageId);
    if (!known || changeSeq <= versionOf(known)) return false;
    return this.put({ ...apply(known), changeSeq });
  }

  /** Drops every message (a reload); pending sends stay. */
  reset(): void {
    this.run = [];
    this.byId.clear();
    this.loaded = false;
    this.cursor = 0;
  }

  /** Messages in seq order, each once, without gap. */
  messages(): readonly Message[] {
    return this.run;
  }

  /** The lowest held seq (0 when none). */
  firstSeq(): number {
    return this.run[0]?.seq ?? 0;
  }

  /** The highest held seq (0 when none). */
  lastSeq(): number {
    return this.run[this.run.length - 1]?.seq ?? 0;
  }

  /** A held message by id. */
  get(messageId: string): Message | undefined {
    return this.byId.get(messageId);
  }

  /** The sends not yet confirmed, in the order they were made. */
  pending(): PendingMessage[] {
    return [...this.pendingSends.values()];
  }

  /** Registers an optimistic send; false when the clientMessageId is already stored. */
  addPending(pending: PendingMessage): boolean {
    if (this.storedClientIds.has(pending.clientMessageId)) return false;
    this.pendingSends.set(pending.clientMessageId, pending);
    return true;
  }

  /** The pending send with this clientMessageId. */
  pendingOf(clientMessageId: string): PendingMessage | undefined {
    return this.pendingSends.get(clientMessageId);
  }

  /** Forgets a pending send (stored under another clientMessageId). */
  removePending(clientMessageId: string): void {
    this.pendingSends.delete(clientMessageId);
  }

  private index(message: Message): void {
    this.byId.set(message.id, message);
    if (message.clientMessageId) {
      this.storedClientIds.add(message.clientMessageId);
      this.pendingSends.delete(message.clientMessageId);
    }
  }
}
