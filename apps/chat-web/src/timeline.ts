/**
 * One room's messages as the page shows them: stored messages ordered by seq, deduplicated by id
 * and by clientMessageId (the sender's own echo replaces the optimistic copy), plus the sends
 * still on their way or failed.
 * @module
 */
import type { Message } from './types.ts';

/** A message sent from this page and not yet confirmed by the server. */
export interface PendingMessage {
  readonly clientMessageId: string;
  readonly roomId: string;
  readonly text: string;
  /** On its way; waiting for the connection (sent when it is back); or refused by the server. */
  status: 'sending' | 'waiting' | 'failed';
  error?: string;
}

/** A room's loaded messages. */
export class Timeline {
  private readonly byId = new Map<string, Message>();
  private readonly byClientId = new Map<string, string>();
  private readonly pendingSends = new Map<string, PendingMessage>();
  private sorted: Message[] | undefined;
  /** Whether older messages than the first loaded one exist. */
  hasOlder = true;
  /** Whether the newest page has been loaded. */
  loaded = false;

  /** Adds or replaces messages; returns how many were new. */
  merge(messages: readonly Message[]): number {
    let added = 0;
    for (const message of messages) {
      const known = this.byId.get(message.id);
      if (known && known.editedAt && !message.editedAt && !message.deleted) continue;
      if (!known) added++;
      this.byId.set(message.id, message);
      if (message.clientMessageId) {
        this.byClientId.set(message.clientMessageId, message.id);
        this.pendingSends.delete(message.clientMessageId);
      }
    }
    this.sorted = undefined;
    return added;
  }

  /** Changes one stored message (edits, deletions, reactions). */
  update(messageId: string, change: (message: Message) => Message): boolean {
    const message = this.byId.get(messageId);
    if (!message) return false;
    this.byId.set(messageId, change(message));
    this.sorted = undefined;
    return true;
  }

  /** Messages in seq order, each once. */
  messages(): Message[] {
    this.sorted ??= [...this.byId.values()].sort((a, b) => a.seq - b.seq);
    return this.sorted;
  }

  /** The sends not yet confirmed, in the order they were made. */
  pending(): PendingMessage[] {
    return [...this.pendingSends.values()];
  }

  /** Registers an optimistic send; false when the clientMessageId is already stored. */
  addPending(pending: PendingMessage): boolean {
    if (this.byClientId.has(pending.clientMessageId)) return false;
    this.pendingSends.set(pending.clientMessageId, pending);
    return true;
  }

  /** The pending send with this clientMessageId. */
  pendingOf(clientMessageId: string): PendingMessage | undefined {
    return this.pendingSends.get(clientMessageId);
  }

  /** Forgets a pending send (stored under another id). */
  removePending(clientMessageId: string): void {
    this.pendingSends.delete(clientMessageId);
  }

  /** The lowest loaded seq (0 when none). */
  firstSeq(): number {
    return this.messages()[0]?.seq ?? 0;
  }

  /** The highest loaded seq (0 when none). */
  lastSeq(): number {
    const all = this.messages();
    return all[all.length - 1]?.seq ?? 0;
  }

  /** A stored message by id. */
  get(messageId: string): Message | undefined {
    return this.byId.get(messageId);
  }
}
