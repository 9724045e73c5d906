/**
 * The inbound side of a hub connection once the handshake is done: parsing with the size limit,
 * stateful reconnect's sequence tracking, the rate limits, and dispatch of each hub message with
 * the parallel invocation limit and back-pressure (docs/protocol.md#invocations,
 * docs/protocol.md#limits-and-timeouts).
 * @module
 */
import {
  type CompletionMessage,
  type HubMessage,
  type InvocationMessage,
  MessageType,
  type ParseResult,
  type StreamInvocationMessage,
} from '@switchboard/protocol';
import { HubException, SwitchboardError } from '../errors.js';
import type { UploadStream } from '../hubs/upload-stream.js';
import {
  EMPTY,
  F_BUFFER_UTF8_VALID,
  F_CLIENT_TIMEOUT_ARMED,
  F_FIRST_FREE,
  HubConnectionCore,
} from './hub-connection-core.js';
import { InvocationSlotHandle, InvocationSlots, type SlotOwner } from './invocation-slots.js';
import type { MessageBuffer } from './message-buffer.js';
import { StreamTracker } from './stream-tracker.js';

const NO_UPLOADS: readonly UploadStream[] = [];

/** Reasons a connection paused its own reading (bit flags). */
const HOLD_TURN = 1;
const HOLD_QUEUE = 2;
/** Handshake done, onConnected still running: messages wait, unread. */
export const HOLD_CONNECTING = 4;

/**
 * The bit of `flags` (HubConnectionCore) set while {@link HubMessageDispatch.readMessages} is on
 * the stack: a call that ends synchronously must not re-enter it.
 */
const F_READING = F_FIRST_FREE;

// The turn of the event loop, counted by one setImmediate per turn in which messages were read
// (not one per connection): every connection's budget counts within the same turn.
let turn = 0;
let turnTicking = false;

function currentTurn(): number {
  if (!turnTicking) {
    turnTicking = true;
    setImmediate(nextTurn);
  }
  return turn;
}

function nextTurn(): void {
  turn++;
  turnTicking = false;
}

/** An Invocation that needs a slot (one with upload streams takes none). */
function isBlockingInvocation(message: HubMessage): boolean {
  return (
    message.type === MessageType.Invocation &&
    (message.streamIds === undefined || message.streamIds.length === 0)
  );
}

function nextTurnOf(connection: HubMessageDispatch): void {
  connection.continueTurn();
}

/**
 * Reading and dispatch of a hub connection's messages. Abstract: a {@link HubConnectionContext}
 * is what the server creates.
 */
export abstract class HubMessageDispatch extends HubConnectionCore implements SlotOwner {
  private get slots(): InvocationSlots {
    this.invocationSlots ??= new InvocationSlots(
      this.env.options.maximumParallelInvocationsPerClient,
      this.connectionAborted,
    );
    return this.invocationSlots;
  }

  private get streams(): StreamTracker {
    this.streamTracker ??= this.newStreamTracker();
    return this.streamTracker;
  }

  /** Whether a full upload stream holds up the messages after it (docs/protocol.md#upload-buffering). */
  private get streamsBlocked(): boolean {
    return this.streamTracker !== undefined && this.streamTracker.blocked;
  }

  private newStreamTracker(): StreamTracker {
    const env = this.env;
    return new StreamTracker(this, {
      hubPath: env.hubPath,
      dispatcher: env.dispatcher,
      logger: env.logger,
      metrics: env.metrics,
      streamBufferCapacity: env.options.streamBufferCapacity,
      write: (message) => this.writeOwn(message),
      writeCompletion: (completion, target) => this.writeCompletion(completion, target),
      backedUp: () => this.state === 'connected' && this.bufferedAmount > env.options.sendBufferHighWaterMark,
      block: () => this.pauseReading(),
      unblock: () => {
        this.resumeReading();
        queueMicrotask(() => this.readMessages());
      },
    });
  }

  // ---- reading ----------------------------------------------------------------------------------

  /** Messages handled in {@link budgetTurn}: at most `maxMessagesPerTurn`. */
  private handledThisTurn = 0;
  /** The turn of the event loop that {@link handledThisTurn} counts. */
  private budgetTurn = -1;
  /** Why this object itself paused reading (bit flags, each counted once in `readPauses`). */
  private readHolds = 0;

  /**
   * How many parsed invocations wait for a slot: at most `maxQueuedInvocations`, plus what one
   * turn's budget parsed (for diagnostics and tests).
   */
  get queuedInvocations(): number {
    return this.pendingInvocations?.length ?? 0;
  }

  /** Takes the bytes of a transport message (after the handshake, or while it is read). */
  protected received(data: Buffer, utf8Valid: boolean): void {
    const empty = this.buffer.length === 0 && this.inbox === undefined;
    const valid = utf8Valid && (empty || (this.flags & F_BUFFER_UTF8_VALID) !== 0);
    this.flags = valid ? this.flags | F_BUFFER_UTF8_VALID : this.flags & ~F_BUFFER_UTF8_VALID;
    if (empty) {
      this.buffer = data;
    } else if (this.readHolds !== 0 || this.streamsBlocked || this.state === 'connecting') {
      // Not read before a later turn: kept as a list, joined once (no copy per chunk).
      if (this.inbox === undefined) this.inbox = [data];
      else this.inbox.push(data);
    } else {
      this.buffer = Buffer.concat([this.buffer, data]);
    }
  }

  /**
   * Parses and handles what was received, at most `maxMessagesPerTurn` messages per turn of the
   * event loop: past the budget it stops reading and goes on in the next turn (setImmediate), so
   * that the other connections' messages are read meanwhile. It also stops, unread, when
   * `maxQueuedInvocations` invocations wait for a slot, while connecting, and while an upload
   * stream is full (docs/protocol.md#upload-buffering).
   */
  protected readMessages(): void {
    if ((this.flags & F_READING) !== 0 || (this.readHolds & HOLD_TURN) !== 0) return;
    this.flags |= F_READING;
    try {
      this.readLoop();
    } finally {
      this.flags &= ~F_READING;
    }
  }

  private readLoop(): void {
    const options = this.env.options;
    for (;;) {
      if (this.state === 'closed') return;
      if (this.inbox !== undefined) this.takeInbox();
      const held = this.held;
      const hasHeld = held !== undefined && held.length > 0;
      if (!hasHeld && this.buffer.length === 0) return;
      if (this.state !== 'connected') {
        this.holdReading(HOLD_CONNECTING); // released once onConnected has run
        return;
      }
      if (this.streamsBlocked) return; // the stream tracker paused reading; unblock reads on
      const room = this.turnRoom();
      if (room <= 0) {
        this.yieldTurn();
        return;
      }
      const pending = this.pendingInvocations;
      if (pending !== undefined && pending.length >= options.maxQueuedInvocations) {
        // Released when a queued invocation starts.
        if ((this.readHolds & HOLD_QUEUE) !== 0) return;
        if (hasHeld && isBlockingInvocation(held[0]!)) {
          this.holdReading(HOLD_QUEUE);
          return;
        }
        if (!hasHeld) {
          const next = this.parse(1);
          if (next === undefined) return; // no whole message yet: read on, it may drain the queue
          if (next.messages.length > 0 && isBlockingInvocation(next.messages[0]!)) {
            this.holdReading(HOLD_QUEUE); // left unconsumed: parsed again once there is room
            return;
          }
          this.handleParsed(next, 1);
          continue;
        }
      }
      if (hasHeld) {
        this.handledThisTurn++;
        this.handleMessage(held.shift()!);
        continue;
      }
      const parsed = this.parse(room);
      if (parsed === undefined) return;
      this.handleParsed(parsed, room);
    }
  }

  /** Parses up to `limit` messages; undefined when no whole message is there (or on bad input). */
  private parse(limit: number): ParseResult | undefined {
    try {
      const result = this.hubProtocol!.parseMessages(this.buffer, {
        maxMessageSize: this.env.options.maximumReceiveMessageSize,
        utf8Validated: (this.flags & F_BUFFER_UTF8_VALID) !== 0,
        maxMessages: limit,
      });
      return result.consumed === 0 ? undefined : result;
    } catch (error) {
      this.protocolViolation(error);
      return undefined;
    }
  }

  /** Consumes what {@link parse} found and handles it, in order. */
  private handleParsed(parsed: ParseResult, limit: number): void {
    const { messages, consumed } = parsed;
    this.buffer = consumed === this.buffer.length ? EMPTY : this.buffer.subarray(consumed);
    // Messages of unknown types are skipped by the parser: a slice of only those costs the whole
    // budget it was allowed.
    this.handledThisTurn += messages.length === 0 ? limit : messages.length;
    if (messages.length === 0) return;
    this.env.metrics.messagesReceived(this.env.hubPath, messages.length, consumed);
    const replayBuffer = this.messageBuffer;
    for (const message of messages) {
      if (this.state === 'closed') return;
      if (replayBuffer !== undefined && !this.track(replayBuffer, message)) continue;
      // While an upload stream is full nothing more is handled (docs/protocol.md#upload-buffering): the rest
      // waits, in order.
      const held = this.held;
      if ((held !== undefined && held.length > 0) || this.streamsBlocked) {
        if (held === undefined) this.held = [message];
        else held.push(message);
      } else {
        this.handleMessage(message);
      }
    }
  }

  /** Joins the chunks that arrived while the buffer waited. */
  private takeInbox(): void {
    const inbox = this.inbox!;
    this.inbox = undefined;
    this.buffer = Buffer.concat(this.buffer.length === 0 ? inbox : [this.buffer, ...inbox]);
  }

  /** How many more messages this connection may handle in the current turn of the event loop. */
  private turnRoom(): number {
    const turn = currentTurn();
    if (turn !== this.budgetTurn) {
      this.budgetTurn = turn;
      this.handledThisTurn = 0;
    }
    return this.env.options.maxMessagesPerTurn - this.handledThisTurn;
  }

  /** The budget is spent: stop reading, and go on in the next turn. */
  private yieldTurn(): void {
    if ((this.readHolds & HOLD_TURN) !== 0) return;
    this.holdReading(HOLD_TURN);
    setImmediate(nextTurnOf, this);
  }

  /** @internal The next turn of a connection that yielded. */
  continueTurn(): void {
    this.readHolds &= ~HOLD_TURN;
    this.startQueued();
    this.readMessages();
    this.resumeReading();
  }

  private holdReading(flag: number): void {
    if ((this.readHolds & flag) !== 0) return;
    this.readHolds |= flag;
    this.pauseReading();
  }

  /** Lifts one reason to pause: reads what waits first, so that a new pause needs no toggle. */
  protected releaseReading(flag: number): void {
    if ((this.readHolds & flag) === 0) {
      this.readMessages();
      return;
    }
    this.readHolds &= ~flag;
    this.readMessages();
    this.resumeReading();
  }

  /**
   * Counts an inbound message for stateful reconnect; false when it is not for the hub
   * (docs/protocol.md#resuming).
   */
  private track(replayBuffer: MessageBuffer, message: HubMessage): boolean {
    switch (message.type) {
      case MessageType.Ack:
        replayBuffer.ack(message.sequenceId);
        return false;
      case MessageType.Sequence:
        if (!replayBuffer.resetSequence(message.sequenceId)) {
          this.protocolViolation(
            new SwitchboardError(
              'SB_ERR_PROTOCOL_VIOLATION',
              "Sequence ID greater than amount of messages we've received.",
            ),
          );
        }
        return false;
      default:
        return replayBuffer.shouldProcess(message);
    }
  }

  /**
   * Applies the hub's rate limits to an invocation (unknown methods count too). A refused `invoke`
   * gets a Completion error starting with `SB_ERR_RATE_LIMITED`; a refused `send` is dropped and
   * counted; a client that keeps going past its limit is closed with a reason.
   */
  private admit(message: InvocationMessage | StreamInvocationMessage): boolean {
    const verdict = this.env.rateLimiter!.check(this.rateState!, this.userIdentifier, message.target);
    if (verdict.ok) return true;
    this.env.metrics.error(this.env.hubPath, 'SB_ERR_RATE_LIMITED');
    if (verdict.abusive) {
      this.env.logger.warn('connection.rate_limit_abuse', {
        hub: this.env.hubPath,
        connectionId: this.connectionId,
      });
      this.closeWith(
        {
          type: MessageType.Close,
          error: 'SB_ERR_RATE_LIMITED: Too many invocations over the rate limit; the connection is closed.',
        },
        new SwitchboardError('SB_ERR_RATE_LIMITED', 'The client kept invoking past its rate limit.'),
      );
      return false;
    }
    if (message.invocationId !== undefined) {
      this.writeOwn({
        type: MessageType.Completion,
        invocationId: message.invocationId,
        hasResult: false,
        error: `SB_ERR_RATE_LIMITED: Too many invocations (${verdict.scope} limit); '${message.target}' was not run. Slow down and retry.`,
      });
    }
    return false;
  }

  private handleMessage(message: HubMessage): void {
    switch (message.type) {
      case MessageType.Invocation: {
        if (this.rateState && !this.admit(message)) return;
        if (message.streamIds !== undefined && message.streamIds.length > 0) {
          // A call with upload streams takes no slot, as in the reference: its items and its end
          // are read whatever else runs, so it never waits behind the calls it would let finish.
          this.streams.open(message);
          this.runInvocation(message, false);
          return;
        }
        const pending = this.pendingInvocations;
        if ((pending === undefined || pending.length === 0) && this.slots.tryTake()) {
          this.runInvocation(message, true);
        } else if (pending === undefined) {
          // Waits for a slot (docs/protocol.md#parallel-invocations); reading stops once maxQueuedInvocations
          // wait (readLoop).
          this.pendingInvocations = [message];
        } else {
          pending.push(message);
        }
        return;
      }
      case MessageType.StreamInvocation:
        if (this.rateState && !this.admit(message)) return;
        this.streams.start(message);
        return;
      case MessageType.Ping:
        this.flags |= F_CLIENT_TIMEOUT_ARMED;
        return;
      case MessageType.Close:
        // The client is leaving (docs/protocol.md#client-close): answer with our own Close, then end.
        this.closeWith(
          { type: MessageType.Close },
          message.error ? new HubException(message.error) : undefined,
        );
        return;
      case MessageType.CancelInvocation:
        this.streams.cancel(message.invocationId);
        return;
      case MessageType.StreamItem:
        this.streams.item(message);
        return;
      case MessageType.Completion:
        // An upload stream's end, else a client result (docs/protocol.md#client-results); unknown ids are
        // ignored.
        if (!this.streams.complete(message)) this.setClientResult(message);
        return;
      case MessageType.Ack:
      case MessageType.Sequence:
        // Stateful reconnect uses these; ids this connection does not know are ignored
        // (docs/protocol.md#stream-cancel, docs/protocol.md#upload-streams).
        return;
    }
  }

  /**
   * Runs an Invocation in the slot it took; the method gives the slot back while it awaits client
   * results. A call that completes synchronously writes its Completion at once (no promise).
   */
  private runInvocation(message: InvocationMessage, slotted: boolean): void {
    const slot = slotted ? new InvocationSlotHandle(this) : undefined;
    // Most calls carry no upload stream: no tracker lookup for them.
    const uploads = message.streamIds === undefined ? NO_UPLOADS : this.streams.uploadsOf(message);
    const completion = this.env.dispatcher.invoke(this, message, { slot, uploads });
    if (completion instanceof Promise) {
      completion.then(
        (done) => this.invocationEnded(message, slot, done),
        (error: unknown) => {
          this.env.logger.error('invocation.dispatch_failed', {
            hub: this.env.hubPath,
            error: error as Error,
          });
          this.invocationEnded(message, slot, undefined);
        },
      );
    } else {
      this.invocationEnded(message, slot, completion);
    }
  }

  private invocationEnded(
    message: InvocationMessage,
    slot: InvocationSlotHandle | undefined,
    completion: CompletionMessage | undefined,
  ): void {
    try {
      if (message.streamIds !== undefined) this.streams.close(message);
      if (completion) this.writeCompletion(completion, message.target);
    } finally {
      // Whatever happened to the Completion, the slot must free up, or the connection hangs.
      slot?.finish();
    }
  }

  /** @internal A running method takes its slot again (after a client result). */
  takeSlot(): Promise<void> {
    return this.slots.take();
  }

  /** @internal A running method gave its slot back or ended. */
  slotFreed(): void {
    this.invocationDone();
  }

  private invocationDone(): void {
    // A method that gave its slot back for a client result takes it first.
    if (!this.slots.free() || this.state !== 'connected') return;
    // Calls that complete synchronously come back here from inside the loop of startQueued: that
    // loop starts the next one, so a long queue never deepens the stack.
    if (this.slots.startingQueued) return;
    this.startQueued();
  }

  /** Starts queued invocations while slots are free, within the turn's budget; then reads on. */
  private startQueued(): void {
    const pending = this.pendingInvocations;
    if (pending === undefined || pending.length === 0 || this.state !== 'connected') return;
    const slots = this.slots;
    slots.startingQueued = true;
    try {
      while (pending.length > 0 && this.state === 'connected') {
        if (this.turnRoom() <= 0) {
          this.yieldTurn();
          return;
        }
        if (!slots.tryTake()) break;
        this.handledThisTurn++;
        this.runInvocation(pending.shift()!, true);
      }
    } finally {
      slots.startingQueued = false;
    }
    if (pending.length < this.env.options.maxQueuedInvocations) this.releaseReading(HOLD_QUEUE);
  }

  /** Hands a Completion to the lifetime manager: the answer to a client result this server awaits. */
  private setClientResult(message: CompletionMessage): void {
    this.env.manager.setConnectionResult(this.connectionId, message).catch((error: unknown) => {
      this.env.logger.error('client_result.set_failed', {
        hub: this.env.hubPath,
        connectionId: this.connectionId,
        error: error as Error,
      });
    });
  }
}
