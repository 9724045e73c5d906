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
  type StreamInvocationMessage,
} from '@switchboard/protocol';
import { HubException, SwitchboardError } from '../errors.js';
import type { UploadStream } from '../hubs/upload-stream.js';
import { EMPTY, HubConnectionCore } from './hub-connection-core.js';
import { InvocationSlotHandle, InvocationSlots, type SlotOwner } from './invocation-slots.js';
import type { MessageBuffer } from './message-buffer.js';
import { StreamTracker } from './stream-tracker.js';

const NO_UPLOADS: readonly UploadStream[] = [];

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
        queueMicrotask(() => this.drainHeld());
      },
    });
  }

  // ---- reading ----------------------------------------------------------------------------------

  /** Handles the messages held back while connecting or while an upload stream was full, in order. */
  protected drainHeld(): void {
    const held = this.held;
    if (held === undefined) return;
    while (held.length > 0 && this.state === 'connected' && !this.streamsBlocked) {
      this.handleMessage(held.shift()!);
    }
  }

  /** Parses and handles what the buffer holds; `utf8Validated`: all of it is known-valid UTF-8. */
  protected readMessages(utf8Validated = false): void {
    if (this.buffer.length === 0) return;
    let messages: HubMessage[];
    const total = this.buffer.length;
    try {
      const result = this.hubProtocol!.parseMessages(this.buffer, {
        maxMessageSize: this.env.options.maximumReceiveMessageSize,
        utf8Validated,
      });
      messages = result.messages;
      this.buffer = result.consumed === this.buffer.length ? EMPTY : this.buffer.subarray(result.consumed);
    } catch (error) {
      this.protocolViolation(error);
      return;
    }
    if (messages.length === 0) return;
    this.env.metrics.messagesReceived(this.env.hubPath, messages.length, total - this.buffer.length);
    const replayBuffer = this.messageBuffer;
    for (const message of messages) {
      if (this.state === 'closed') return;
      if (replayBuffer !== undefined && !this.track(replayBuffer, message)) continue;
      // While an upload stream is full nothing more is handled (docs/protocol.md#upload-buffering): the rest
      // waits, in order.
      const held = this.held;
      if (this.state === 'connecting' || (held !== undefined && held.length > 0) || this.streamsBlocked) {
        if (held === undefined) this.held = [message];
        else held.push(message);
      } else {
        this.handleMessage(message);
      }
    }
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
      case MessageType.Invocation:
        if (this.rateState && !this.admit(message)) return;
        // Upload streams open now, so that the items following a queued invocation are kept
        // (docs/protocol.md#upload-streams).
        if (message.streamIds !== undefined) this.streams.open(message);
        if (this.slots.tryTake()) {
          this.runInvocation(message);
        } else {
          // Back-pressure: stop reading until a slot frees (docs/protocol.md#parallel-invocations). What was
          // parsed already waits here.
          this.pendingInvocations ??= [];
          this.pendingInvocations.push(message);
          if (this.pendingInvocations.length === 1) this.pauseReading();
        }
        return;
      case MessageType.StreamInvocation:
        if (this.rateState && !this.admit(message)) return;
        this.streams.start(message);
        return;
      case MessageType.Ping:
        this.clientTimeoutArmed = true;
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
  private runInvocation(message: InvocationMessage): void {
    const slot = new InvocationSlotHandle(this);
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
    slot: InvocationSlotHandle,
    completion: CompletionMessage | undefined,
  ): void {
    try {
      if (message.streamIds !== undefined) this.streams.close(message);
      if (completion) this.writeCompletion(completion, message.target);
    } finally {
      // Whatever happened to the Completion, the slot must free up, or the connection hangs.
      slot.finish();
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
    const slots = this.slots;
    if (!slots.free() || this.state !== 'connected') return;
    // Calls that complete synchronously come back here from inside the loop below: the loop
    // starts the next one, so a long queue never deepens the stack.
    if (slots.startingQueued) return;
    const pending = this.pendingInvocations;
    if (pending === undefined || pending.length === 0) return;
    slots.startingQueued = true;
    try {
      while (pending.length > 0 && this.state === 'connected' && slots.tryTake()) {
        this.runInvocation(pending.shift()!);
        if (pending.length === 0) this.resumeReading();
      }
    } finally {
      slots.startingQueued = false;
    }
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
