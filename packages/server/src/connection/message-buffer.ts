import { type HubMessage, MessageType } from '@switchboard/protocol';

/** The messages stateful reconnect numbers and replays (docs/protocol.md#sequence-numbers). */
export function isTrackable(message: HubMessage): boolean {
  switch (message.type) {
    case MessageType.Invocation:
    case MessageType.StreamItem:
    case MessageType.Completion:
    case MessageType.StreamInvocation:
    case MessageType.CancelInvocation:
      return true;
    default:
      return false;
  }
}

/** What to send first on a resumed transport: a Sequence id and the unacknowledged messages. */
export interface Replay {
  /** The id of the first message in `messages`, or the next id when there are none. */
  readonly sequenceId: number;
  /** Serialized messages in their original order. */
  readonly messages: readonly Buffer[];
}

/**
 * The stateful-reconnect bookkeeping of one connection (ASP.NET's MessageBuffer,
 * docs/protocol.md#stateful-reconnect).
 *
 * Outbound: every trackable message sent gets the next id (1, 2, 3 …) and its bytes are kept until
 * the client acknowledges them; the kept bytes are bounded by `limitBytes` (the caller treats a
 * buffer over the limit as a client that stopped reading). Inbound: trackable messages are
 * counted; after a reconnect the client's Sequence resets the count, and ids already processed
 * are dropped as duplicates; {@link takeAck} says when an Ack is due.
 */
/** What an acknowledged slot of the send list holds until the list is compacted: nothing to keep alive. */
const RELEASED: { id: number; bytes: Buffer } = { id: 0, bytes: Buffer.alloc(0) };

export class MessageBuffer {
  private readonly sent: { id: number; bytes: Buffer }[] = [];
  private sentHead = 0;
  private bufferedBytes = 0;
  private nextSendId = 1;
  private received = 0;
  private processed = 0;
  private ackDue = false;

  constructor(readonly limitBytes: number) {}

  /** Bytes kept for replay. */
  get size(): number {
    return this.bufferedBytes;
  }

  /** Whether the kept bytes exceed the limit. */
  get overLimit(): boolean {
    return this.bufferedBytes > this.limitBytes;
  }

  /** Records an outbound message; trackable ones are numbered and kept. */
  recordSent(message: HubMessage, bytes: Buffer): void {
    if (!isTrackable(message)) return;
    this.sent.push({ id: this.nextSendId++, bytes });
    this.bufferedBytes += bytes.length;
  }

  /** The client processed everything up to `sequenceId`: drop it. */
  ack(sequenceId: number): void {
    while (this.sentHead < this.sent.length && this.sent[this.sentHead]!.id <= sequenceId) {
      this.bufferedBytes -= this.sent[this.sentHead]!.bytes.length;
      // The list is compacted in batches; until then an acknowledged slot must not hold its bytes.
      this.sent[this.sentHead] = RELEASED;
      this.sentHead++;
    }
    if (this.sentHead > 1024 && this.sentHead * 2 > this.sent.length) {
      this.sent.splice(0, this.sentHead);
      this.sentHead = 0;
    }
  }

  /** What a resumed transport must carry first (docs/protocol.md#resuming). */
  replay(): Replay {
    const pending = this.sent.slice(this.sentHead);
    return {
      sequenceId: pending.length > 0 ? pending[0]!.id : this.nextSendId,
      messages: pending.map((m) => m.bytes),
    };
  }

  /**
   * Counts an inbound message. Returns false for a trackable message already processed before a
   * reconnect (a duplicate to drop).
   */
  shouldProcess(message: HubMessage): boolean {
    if (!isTrackable(message)) return true;
    this.received++;
    if (this.received <= this.processed) return false;
    this.processed = this.received;
    this.ackDue = true;
    return true;
  }

  /**
   * The client's Sequence after a reconnect: its next message has this id. An id beyond what was
   * received means lost messages, which cannot be recovered: the caller closes the connection.
   */
  resetSequence(sequenceId: number): boolean {
    if (sequenceId > this.received + 1) return false;
    this.received = sequenceId - 1;
    // The client may have missed the last Ack when the transport dropped: send it again.
    if (this.processed > 0) this.ackDue = true;
    return true;
  }

  /** The id to acknowledge, once per batch of newly processed messages, or undefined. */
  takeAck(): number | undefined {
    if (!this.ackDue) return undefined;
    this.ackDue = false;
    return this.processed;
  }
}
