/**
 * The state of a hub connection and its way out: the fields every part of a connection shares, the
 * write path (back-pressure, the send limit, stateful reconnect's numbering) and the close and
 * disconnect sequence of docs/protocol.md#close. {@link HubConnectionContext} builds on it.
 * @module
 */
import {
  type CloseMessage,
  type CompletionMessage,
  type HubMessage,
  type HubProtocol,
  type InvocationMessage,
  MessageType,
  writeHandshakeResponse,
} from '@switchboard/protocol';
import type { Principal } from '../auth/authentication.js';
import { buildErrorMessage, errorMessage, SwitchboardError } from '../errors.js';
import type { HttpRequestInfo } from '../http/http-request-info.js';
import type { HubCallerContext } from '../hubs/hub-caller-context.js';
import type { HubDispatcher } from '../hubs/hub-dispatcher.js';
import type { ConnectionRateState, HubRateLimiter } from '../hubs/rate-limiter.js';
import type {
  CloseConnectionOptions,
  HubConnectionRef,
  HubLifetimeManager,
} from '../lifetime/hub-lifetime-manager.js';
import type { SerializedHubMessage } from '../lifetime/serialized-hub-message.js';
import type { Logger } from '../logger.js';
import type { ConnectionCloseStatus, HubMetrics } from '../metrics.js';
import type { ResolvedHubOptions } from '../options.js';
import type { ConnectionTransport } from './connection-transport.js';
import { protocolExceptionType } from './handshake.js';
import type { InvocationSlots } from './invocation-slots.js';
import type { MessageBuffer } from './message-buffer.js';
import type { StreamTracker } from './stream-tracker.js';

/** A coarse clock shared by all connections, refreshed on every heartbeat tick. */
export interface HeartbeatClock {
  /** Whole milliseconds, as the server's time provider counts them, at the last tick (or the last connection created). */
  now: number;
}

/** What a hub connection needs from the hub it belongs to. */
export interface HubConnectionEnvironment {
  readonly hubPath: string;
  readonly dispatcher: HubDispatcher;
  readonly manager: HubLifetimeManager;
  readonly options: ResolvedHubOptions;
  readonly protocols: readonly HubProtocol[];
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  readonly clock: HeartbeatClock;
  /** The hub's invocation rate limiter, when rate limits are on. */
  readonly rateLimiter?: HubRateLimiter;
}

/** Where a connection is in its life. */
export type State = 'handshake' | 'connecting' | 'connected' | 'closed';

/**
 * Given to a connection whose negotiate enabled stateful reconnect
 * (docs/protocol.md#stateful-reconnect-opt-in); the
 * feature turns on when the handshake asks for version 2 or more.
 */
export interface StatefulReconnectHooks {
  /** The transport dropped and the connection waits for the client's new one (docs/protocol.md#resuming). */
  onDetached(): void;
}

/** An empty buffer: what is left of the input once everything was read. */
export const EMPTY = Buffer.alloc(0);

// The bits of `HubConnectionCore.flags`, tested and set in place: `(flags & F_X) !== 0`,
// `flags |= F_X`, `flags &= ~F_X`.
/** The handshake chose a binary protocol. */
export const F_BINARY = 1 << 0;
/** All of `buffer` and `inbox` is known-valid UTF-8 (text WebSocket messages). */
export const F_BUFFER_UTF8_VALID = 1 << 1;
/** The client timeout counts (from the first message received). */
export const F_CLIENT_TIMEOUT_ARMED = 1 << 2;
/** The lifetime manager has the connection (its onConnected ran). */
export const F_MANAGER_CONNECTED = 1 << 3;
/** The hub's onConnected ran. */
export const F_HUB_CONNECTED = 1 << 4;
/** The disconnect sequence has run (onDisconnected and the lifetime manager). */
export const F_DISCONNECT_DONE = 1 << 5;
/** The transport dropped; the connection waits for the client's next one (docs/protocol.md#resuming). */
export const F_DETACHED = 1 << 6;
/** The first transport (the one this object receives from directly) was replaced. */
export const F_FIRST_TRANSPORT_RETIRED = 1 << 7;
/** The lowest bit of `HubConnectionCore.flags` that a subclass may use for its own flags. */
export const F_FIRST_FREE = 1 << 8;

/**
 * The shared state, writing and closing of a hub connection. Abstract: a
 * {@link HubConnectionContext} is what the server creates.
 */
export abstract class HubConnectionCore implements HubConnectionRef, HubCallerContext {
  /** The connection's yes/no states, one bit each (the `F_` constants): one field, not nine. */
  protected flags = 0;
  /** `items`, created on first use (most connections never touch it). */
  protected itemsMap: Map<unknown, unknown> | undefined;
  /** The user id: the authenticated one, or what the hub's `onConnecting` hook gave. */
  protected currentUser: string | undefined;
  /** The protocol chosen in the handshake (JSON until then). */
  protected hubProtocol: HubProtocol | undefined;
  protected state: State = 'handshake';
  /** Received bytes not parsed yet (whole messages waiting for their turn, or half a message). */
  protected buffer: Buffer = EMPTY;
  /** Chunks received while the buffer waits (a yielded turn, a full queue): joined once, later. */
  protected inbox: Buffer[] | undefined;
  protected readonly startedAt: number;
  protected lastReceivedAt: number;
  protected lastWriteAt: number;
  protected backedUpSince: number | undefined;
  /** The parallel-invocation slots, created with the first invocation. */
  protected invocationSlots: InvocationSlots | undefined;
  /** Streams in both directions (docs/protocol.md#streaming), created with the first invocation. */
  protected streamTracker: StreamTracker | undefined;
  /** Why reading is paused: invocations waiting for a slot, a full upload stream (counted). */
  protected readPauses = 0;
  /**
   * Invocations parsed while every slot was taken (or while earlier ones still waited), in order;
   * created when the first waits, at most `maxQueuedInvocations` (plus one turn's parse).
   */
  protected pendingInvocations: InvocationMessage[] | undefined;
  /**
   * Writes made before the handshake reply went out (a send that reached the connection while the
   * lifetime manager subscribed its channels): defined from the handshake until the reply is
   * written, then written after it, in order.
   */
  private beforeReply: [Buffer, HubMessage | undefined, boolean][] | undefined;
  /** Messages parsed behind one that filled an upload stream, held in order; created when needed. */
  protected held: HubMessage[] | undefined;
  /** Behind `connectionAborted`, created when first asked for (aborted at once if the connection ended). */
  protected abortController: AbortController | undefined;
  protected rateState: ConnectionRateState | undefined;
  protected endError: Error | undefined;
  /** Behind `closed`, created when first asked for. */
  protected ended: Promise<void> | undefined;
  protected resolveEnded: (() => void) | undefined;
  /**
   * When the user's credentials expire (epoch ms), if the hub closes connections then
   * (docs/protocol.md#auth-expiration).
   */
  protected authExpiresAt: number | undefined;
  /**
   * Stateful reconnect's numbering and replay buffer, when the feature is on
   * (docs/protocol.md#stateful-reconnect).
   */
  protected messageBuffer: MessageBuffer | undefined;
  /** Why the transport dropped, for onDisconnected if the client never comes back. */
  protected detachError: Error | undefined;

  constructor(
    readonly connectionId: string,
    readonly user: Principal | undefined,
    readonly request: HttpRequestInfo,
    protected transportImpl: ConnectionTransport,
    protected readonly env: HubConnectionEnvironment,
    protected readonly statefulHooks?: StatefulReconnectHooks,
  ) {
    this.currentUser = user?.userId;
    this.authExpiresAt = env.options.closeOnAuthenticationExpiration ? user?.expiresAt : undefined;
    this.startedAt = env.clock.now;
    this.lastReceivedAt = env.clock.now;
    this.lastWriteAt = env.clock.now;
  }

  /** Tells the owner that the connection ended (once, as the disconnect sequence starts). */
  protected abstract notifyEnded(): void;

  get userIdentifier(): string | undefined {
    return this.currentUser;
  }

  get items(): Map<unknown, unknown> {
    this.itemsMap ??= new Map();
    return this.itemsMap;
  }

  /**
   * How the connection ended, for `signalr.connection.status`: set to `timeout` or `app_shutdown`
   * by whatever ends it so; `normal_closure` otherwise.
   */
  closeStatus: ConnectionCloseStatus = 'normal_closure';

  get transport(): string {
    return this.transportImpl.name;
  }

  get protocol(): string {
    return this.hubProtocol?.name ?? '';
  }

  get connectionAborted(): AbortSignal {
    if (this.abortController === undefined) {
      this.abortController = new AbortController();
      if (this.state === 'closed') this.abortController.abort(this.endError);
    }
    return this.abortController.signal;
  }

  /** Bytes written to the transport and not yet handed to the network (for back-pressure). */
  get bufferedAmount(): number {
    return this.transportImpl.bufferedAmount;
  }

  /** Whether the handshake completed and the connection has not ended. */
  get isConnected(): boolean {
    return this.state === 'connected';
  }

  /** Resolves when the connection has ended and onDisconnected has run. */
  get closed(): Promise<void> {
    if (this.ended === undefined) {
      this.ended =
        (this.flags & F_DISCONNECT_DONE) !== 0
          ? Promise.resolve()
          : new Promise((resolve) => {
              this.resolveEnded = resolve;
            });
    }
    return this.ended;
  }

  // ---- HubConnectionRef -------------------------------------------------------------------

  writeMessage(message: SerializedHubMessage): void {
    // 'connecting' too: onConnected runs after the handshake reply and may send at once
    // (docs/protocol.md#handshake-reply).
    if (this.state !== 'connected' && this.state !== 'connecting') return;
    this.writeBytes(message.getSerialized(this.hubProtocol!), message.message, true);
  }

  // ---- HubCallerContext ----------------------------------------------------------------------

  abort(): void {
    this.closeWith({ type: MessageType.Close }, undefined);
  }

  // ---- closing -------------------------------------------------------------------------------

  /** Ends the connection from the server side (see {@link HubConnectionRef.close}). */
  close(options: CloseConnectionOptions = {}): void {
    this.closeWith(
      {
        type: MessageType.Close,
        ...(options.reason ? { error: options.reason } : {}),
        ...(options.allowReconnect ? { allowReconnect: true } : {}),
      },
      undefined,
    );
  }

  /**
   * Sends `closeMessage` (when the connection got past the handshake), closes the transport and
   * runs the disconnect sequence with `error`. Idempotent.
   */
  closeWith(closeMessage: CloseMessage | undefined, error: Error | undefined): void {
    if (this.state === 'closed') return;
    // The client hears the handshake reply before anything else, a Close included.
    if (this.state === 'connecting') this.writeHandshakeReply();
    if (closeMessage && (this.state === 'connected' || this.state === 'connecting'))
      this.writeOwn(closeMessage);
    this.transportImpl.close('graceful');
    this.end(error);
  }

  /**
   * The disconnect sequence (HubConnectionHandler's order): the hub's onDisconnected (only if its
   * onConnected succeeded), then the lifetime manager, then the metrics. Runs once.
   */
  protected end(error: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.rateState) this.env.rateLimiter!.detach(this.userIdentifier);
    this.endError = error;
    this.buffer = EMPTY;
    this.inbox = undefined;
    this.pendingInvocations = undefined;
    this.held = undefined;
    this.abortController?.abort(error);
    this.notifyEnded();
    void this.runDisconnect(error).finally(() => {
      this.flags |= F_DISCONNECT_DONE;
      this.resolveEnded?.();
    });
  }

  private async runDisconnect(error: Error | undefined): Promise<void> {
    if ((this.flags & F_HUB_CONNECTED) !== 0) {
      await this.env.dispatcher.onDisconnected(this, error);
      this.env.metrics.connectionClosed(
        this.env.hubPath,
        this.transport,
        this.env.clock.now - this.startedAt,
        this.closeStatus,
      );
    }
    if ((this.flags & F_MANAGER_CONNECTED) !== 0) {
      try {
        await this.env.manager.onDisconnected(this);
      } catch (failure) {
        this.env.logger.error('lifetime.on_disconnected_failed', {
          hub: this.env.hubPath,
          error: failure as Error,
        });
      }
    }
  }

  /** Why the connection ended, when it did not end cleanly. */
  get error(): Error | undefined {
    return this.endError;
  }

  // ---- reading control -------------------------------------------------------------------------

  /** Stops reading from the transport; every reason to pause counts, so resumes compose. */
  protected pauseReading(): void {
    if (this.readPauses++ === 0) this.transportImpl.pause();
  }

  protected resumeReading(): void {
    if (--this.readPauses > 0 || this.state === 'closed') return;
    // The client timeout counts again from now, not from before the pause.
    this.lastReceivedAt = this.env.clock.now;
    this.transportImpl.resume();
  }

  protected protocolViolation(error: unknown): void {
    this.env.metrics.error(this.env.hubPath, 'SB_ERR_PROTOCOL_VIOLATION');
    this.env.logger.debug('connection.protocol_error', {
      hub: this.env.hubPath,
      connectionId: this.connectionId,
      reason: errorMessage(error),
    });
    const detail = ` ${protocolExceptionType(error)}: ${errorMessage(error)}`;
    // allowReconnect: the reference closes with connection.AllowReconnect, true unless aborted
    // (docs/protocol.md#server-close).
    this.closeWith(
      {
        type: MessageType.Close,
        error: `Connection closed with an error.${this.env.options.enableDetailedErrors ? detail : ''}`,
        allowReconnect: true,
      },
      new SwitchboardError('SB_ERR_PROTOCOL_VIOLATION', errorMessage(error), { cause: error }),
    );
  }

  // ---- writing ----------------------------------------------------------------------------------

  /**
   * Writes a Completion. A result the protocol cannot serialize (a BigInt, a cycle) becomes the
   * error Completion of a failed method, so that the call still settles and the connection goes on.
   */
  protected writeCompletion(completion: CompletionMessage, target: string): void {
    if (this.state === 'closed' || !this.hubProtocol) return;
    let bytes: Buffer;
    try {
      bytes = this.hubProtocol.writeMessage(completion);
    } catch (error) {
      this.env.metrics.error(this.env.hubPath, 'SB_ERR_HUB_METHOD_FAILED');
      this.env.logger.error('invocation.result_not_serializable', {
        hub: this.env.hubPath,
        connectionId: this.connectionId,
        target,
        error: error as Error,
      });
      this.writeOwn({
        type: MessageType.Completion,
        invocationId: completion.invocationId,
        hasResult: false,
        error: buildErrorMessage(
          `An unexpected error occurred invoking '${target}' on the server.`,
          error,
          this.env.options.enableDetailedErrors,
        ),
      });
      return;
    }
    this.writeBytes(bytes, completion);
  }

  protected writeOwn(message: HubMessage): void {
    if (this.state === 'closed' || !this.hubProtocol) return;
    this.writeBytes(this.hubProtocol.writeMessage(message), message);
  }

  /**
   * The one way out for hub messages. With stateful reconnect on, `message` is numbered and its
   * bytes kept for replay; while the transport is down they are only kept. `shared`: the bytes of
   * a {@link SerializedHubMessage}, the same buffer for every recipient (see
   * {@link ConnectionTransport.write}).
   */
  protected writeBytes(bytes: Buffer, message?: HubMessage, shared = false): void {
    if (this.beforeReply !== undefined) {
      this.beforeReply.push([bytes, message, shared]);
      return;
    }
    const replayBuffer = this.messageBuffer;
    if (replayBuffer !== undefined) {
      if (message !== undefined) replayBuffer.recordSent(message, bytes);
      if (replayBuffer.size > this.env.options.maxSendBufferSize) {
        this.stalled(`More than ${this.env.options.maxSendBufferSize} bytes waited to be acknowledged.`);
        return;
      }
      if ((this.flags & F_DETACHED) !== 0) return;
    }
    this.lastWriteAt = this.env.clock.now;
    this.transportImpl.write(bytes, (this.flags & F_BINARY) !== 0, shared);
    this.env.metrics.messageSent(this.env.hubPath, bytes.length);
    if (this.transportImpl.bufferedAmount > this.env.options.maxSendBufferSize) {
      this.stalled(`More than ${this.env.options.maxSendBufferSize} bytes waited to be sent.`);
    }
  }

  /**
   * From the accepted handshake until {@link writeHandshakeReply}: writes wait, so that the lifetime
   * manager can register the connection (and subscribe its channels on a backplane) before the
   * client learns it is connected and tells others to send to it.
   */
  protected holdUntilHandshakeReply(): void {
    this.beforeReply = [];
  }

  /** Writes the handshake reply (once), then what waited for it. */
  protected writeHandshakeReply(): void {
    const waiting = this.beforeReply;
    if (waiting === undefined) return;
    this.beforeReply = undefined;
    // The reply goes out in the negotiated protocol's frame type, before anything else
    // (docs/protocol.md#handshake-reply).
    this.writeBytes(writeHandshakeResponse());
    for (const [bytes, message, shared] of waiting) this.writeBytes(bytes, message, shared);
  }

  /** The client stopped reading: cut it (a Close message could not get through anyway). */
  protected stalled(reason: string): void {
    if (this.state === 'closed') return;
    this.env.metrics.error(this.env.hubPath, 'SB_ERR_SEND_TIMEOUT');
    this.env.logger.warn('connection.send_timeout', {
      hub: this.env.hubPath,
      connectionId: this.connectionId,
      reason,
    });
    this.transportImpl.close('abort');
    this.end(new SwitchboardError('SB_ERR_SEND_TIMEOUT', reason));
  }
}
