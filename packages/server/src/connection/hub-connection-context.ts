import {
  type CloseMessage,
  type CompletionMessage,
  type HubMessage,
  type HubProtocol,
  type InvocationMessage,
  MessageType,
  PING_MESSAGE,
  ProtocolError,
  parseHandshakeRequest,
  type StreamInvocationMessage,
  writeHandshakeResponse,
} from '@switchboard/protocol';
import type { Principal } from '../auth/authentication.js';
import { buildErrorMessage, errorMessage, HubException, SwitchboardError } from '../errors.js';
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
import type { HubMetrics } from '../metrics.js';
import type { ResolvedHubOptions } from '../options.js';
import type { ConnectionTransport, TransportReceiver } from './connection-transport.js';
import { InvocationSlotHandle, InvocationSlots } from './invocation-slots.js';
import { MessageBuffer } from './message-buffer.js';
import { StreamTracker } from './stream-tracker.js';

/** A coarse clock shared by all connections, refreshed on every heartbeat tick. */
export interface HeartbeatClock {
  /** Milliseconds, as the server's time provider counts them, at the last tick. */
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

type State = 'handshake' | 'connecting' | 'connected' | 'closed';

/**
 * Given to a connection whose negotiate enabled stateful reconnect (signalr-protocol.md 18.1); the
 * feature turns on when the handshake asks for version 2 or more.
 */
export interface StatefulReconnectHooks {
  /** The transport dropped and the connection waits for the client's new one (18.5). */
  onDetached(): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * One client connection of a hub (ASP.NET's HubConnectionContext plus the message loop of
 * HubConnectionHandler): the handshake, parsing with the size limit, dispatch with the parallel
 * invocation limit, keep-alive, the client timeout, back-pressure and the send timeout, and the
 * Close rules of signalr-protocol.md section 17. Timers are not its own: {@link tick} runs on the
 * server's heartbeat.
 */
export class HubConnectionContext implements HubConnectionRef, HubCallerContext, TransportReceiver {
  /** `items`, created on first use (most connections never touch it). */
  private itemsMap: Map<unknown, unknown> | undefined;
  readonly userIdentifier: string | undefined;
  /** The protocol chosen in the handshake (JSON until then). */
  private hubProtocol: HubProtocol | undefined;
  private binary = false;
  private state: State = 'handshake';
  private buffer: Buffer = EMPTY;
  private readonly startedAt: number;
  private lastReceivedAt: number;
  private lastWriteAt: number;
  private clientTimeoutArmed = false;
  private backedUpSince: number | undefined;
  /** The parallel-invocation slots, created with the first invocation. */
  private invocationSlots: InvocationSlots | undefined;
  /** Streams in both directions (13.5 to 13.9), created with the first invocation. */
  private streamTracker: StreamTracker | undefined;
  /** Why reading is paused: invocations waiting for a slot, a full upload stream (counted). */
  private readPauses = 0;
  private readonly pendingInvocations: InvocationMessage[] = [];
  private readonly held: HubMessage[] = [];
  /** Behind `connectionAborted`, created when first asked for (aborted at once if the connection ended). */
  private abortController: AbortController | undefined;
  private rateState: ConnectionRateState | undefined;
  private endError: Error | undefined;
  private managerConnected = false;
  private hubConnected = false;
  /** Behind `closed`, created when first asked for. */
  private ended: Promise<void> | undefined;
  private resolveEnded: (() => void) | undefined;
  /** The disconnect sequence has run (onDisconnected and the lifetime manager). */
  private disconnectDone = false;
  /** When the user's credentials expire (epoch ms), if the hub closes connections then (8.5). */
  private authExpiresAt: number | undefined;
  /** Stateful reconnect's numbering and replay buffer, when the feature is on (section 18). */
  private messageBuffer: MessageBuffer | undefined;
  /** The transport dropped; the connection waits for the client's next one (18.5). */
  private detached = false;
  /** Why the transport dropped, for onDisconnected if the client never comes back. */
  private detachError: Error | undefined;
  /** The first transport (the one this object receives from directly) was replaced. */
  private firstTransportRetired = false;

  constructor(
    readonly connectionId: string,
    readonly user: Principal | undefined,
    readonly request: HttpRequestInfo,
    private transportImpl: ConnectionTransport,
    private readonly env: HubConnectionEnvironment,
    private readonly onEnded: (connection: HubConnectionContext) => void,
    private readonly statefulHooks?: StatefulReconnectHooks,
  ) {
    this.userIdentifier = user?.userId;
    this.authExpiresAt = env.options.closeOnAuthenticationExpiration ? user?.expiresAt : undefined;
    this.startedAt = env.clock.now;
    this.lastReceivedAt = env.clock.now;
    this.lastWriteAt = env.clock.now;
  }

  get items(): Map<unknown, unknown> {
    this.itemsMap ??= new Map();
    return this.itemsMap;
  }

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

  /** Whether a full upload stream holds up the messages after it (13.9). */
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
      this.ended = this.disconnectDone
        ? Promise.resolve()
        : new Promise((resolve) => {
            this.resolveEnded = resolve;
          });
    }
    return this.ended;
  }

  // ---- HubConnectionRef -------------------------------------------------------------------

  writeMessage(message: SerializedHubMessage): void {
    // 'connecting' too: onConnected runs after the handshake reply and may send at once (9.6).
    if (this.state !== 'connected' && this.state !== 'connecting') return;
    this.writeBytes(message.getSerialized(this.hubProtocol!), message.message);
  }

  // ---- HubCallerContext ----------------------------------------------------------------------

  abort(): void {
    this.closeWith({ type: MessageType.Close }, undefined);
  }

  // ---- TransportReceiver -----------------------------------------------------------------

  receive(data: Buffer): void {
    if (this.firstTransportRetired) return;
    this.receiveData(data);
  }

  transportEnded(clean: boolean, reason?: string): void {
    if (this.firstTransportRetired) return;
    this.transportLost(clean, reason);
  }

  private receiveData(data: Buffer): void {
    if (this.state === 'closed') return;
    this.lastReceivedAt = this.env.clock.now;
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    if (this.state === 'handshake') {
      if (!this.readHandshake()) return;
    }
    this.readMessages();
  }

  private transportLost(clean: boolean, reason?: string): void {
    if (this.state === 'closed' || this.detached) return;
    let error: SwitchboardError | undefined;
    if (!clean) {
      error = new SwitchboardError(
        'SB_ERR_CONNECTION_ABORTED',
        reason ?? 'The transport ended without a close.',
      );
      if (this.messageBuffer !== undefined && this.state !== 'handshake') {
        this.detach(error);
        return;
      }
    } else if (this.buffer.length > 0 && this.state !== 'handshake') {
      // Half a message was left: the reference's InvalidDataException (15.8).
      error = new SwitchboardError(
        'SB_ERR_PROTOCOL_VIOLATION',
        'Connection terminated while reading a message.',
      );
    }
    if (error) this.env.metrics.error(this.env.hubPath, error.code);
    this.end(error);
  }

  // ---- heartbeat ------------------------------------------------------------------------------

  /** Checks every timeout; called by the server's heartbeat with the current time. */
  tick(now: number): void {
    const o = this.env.options;
    if (this.state === 'handshake') {
      if (now - this.startedAt >= o.handshakeTimeoutMs) {
        this.failHandshake('Handshake was canceled.', 'handshake.timeout');
      }
      return;
    }
    if (this.state !== 'connected') return;
    const replayBuffer = this.messageBuffer;
    // A replay buffer over its limit means the client acknowledges nothing: as good as not reading.
    if (
      (!this.detached && this.transportImpl.bufferedAmount > o.sendBufferHighWaterMark) ||
      (replayBuffer !== undefined && replayBuffer.overLimit)
    ) {
      this.backedUpSince ??= now;
      if (now - this.backedUpSince >= o.sendTimeoutMs) {
        this.stalled(`The client read nothing for ${o.sendTimeoutMs} ms while data waited to be sent.`);
        return;
      }
    } else {
      this.backedUpSince = undefined;
    }
    if (this.detached) return;
    if (this.authExpiresAt !== undefined && Date.now() >= this.authExpiresAt) {
      this.authenticationExpired();
      return;
    }
    if (replayBuffer !== undefined) {
      // Acknowledge what arrived since the last tick (18.3).
      const ack = replayBuffer.takeAck();
      if (ack !== undefined) this.writeOwn({ type: MessageType.Ack, sequenceId: ack });
    }
    // While invocations wait for a slot the server itself stopped reading, so the client's silence
    // is not the client's doing: the timeout pauses, as the reference's does during dispatch (16.3).
    const reading = this.readPauses === 0;
    if (this.clientTimeoutArmed && reading && now - this.lastReceivedAt >= o.clientTimeoutIntervalMs) {
      this.env.metrics.error(this.env.hubPath, 'SB_ERR_CLIENT_TIMEOUT');
      this.env.logger.debug('connection.client_timeout', {
        hub: this.env.hubPath,
        connectionId: this.connectionId,
      });
      const detail =
        "OperationCanceledException: Client hasn't sent a message/ping within the configured ClientTimeoutInterval.";
      this.closeWith(
        {
          type: MessageType.Close,
          error: o.enableDetailedErrors
            ? `Connection closed with an error. ${detail}`
            : 'Connection closed with an error.',
          allowReconnect: true,
        },
        new SwitchboardError('SB_ERR_CLIENT_TIMEOUT', detail),
      );
      return;
    }
    // No Ping messages on long polling: its polls are the keep-alive (7.11).
    if (this.transportImpl.sendsKeepAlive !== false && now - this.lastWriteAt >= o.keepAliveIntervalMs)
      this.writeOwn(PING_MESSAGE);
  }

  // ---- stateful reconnect (section 18) ------------------------------------------------------

  /** Whether a new transport may take over this connection (stateful reconnect is on, not ended). */
  get canResume(): boolean {
    return this.messageBuffer !== undefined && (this.state === 'connected' || this.state === 'connecting');
  }

  /**
   * Carries on over `transport`, the client's new WebSocket after a drop (18.6): the server's
   * Sequence goes first, then every message the client has not acknowledged, in order; then the
   * connection goes on as before. A transport still thought alive is cut. `user` is the new
   * request's user, whose credentials' expiry replaces the old one. Returns the receiver the
   * new transport reports to, or undefined when the connection cannot resume.
   */
  resume(transport: ConnectionTransport, user?: Principal): TransportReceiver | undefined {
    const replayBuffer = this.messageBuffer;
    if (replayBuffer === undefined || !this.canResume) return undefined;
    // The new request's credentials count from now on (a fresh token lasts longer).
    if (this.authExpiresAt !== undefined && user?.userId === this.userIdentifier) {
      this.authExpiresAt = user?.expiresAt;
    }
    const previous = this.transportImpl;
    const wasDetached = this.detached;
    this.transportImpl = transport;
    this.firstTransportRetired = true;
    this.detached = false;
    this.detachError = undefined;
    this.buffer = EMPTY; // a message cut in half by the drop comes again whole
    this.lastReceivedAt = this.env.clock.now;
    this.backedUpSince = undefined;
    if (!wasDetached) previous.close('abort');
    if (this.readPauses > 0) transport.pause();
    this.env.logger.debug('connection.resumed', { hub: this.env.hubPath, connectionId: this.connectionId });
    const replay = replayBuffer.replay();
    // The client drops everything until it has seen a Sequence (18.6).
    this.writeOwn({ type: MessageType.Sequence, sequenceId: replay.sequenceId });
    for (const bytes of replay.messages) {
      transport.write(bytes, this.binary);
      this.env.metrics.messageSent(this.env.hubPath, bytes.length);
    }
    return {
      receive: (data) => {
        if (this.transportImpl === transport) this.receiveData(data);
      },
      transportEnded: (clean, reason) => {
        if (this.transportImpl === transport) this.transportLost(clean, reason);
      },
    };
  }

  /**
   * The disconnect timeout disposed the connection (the client never came back, or never started
   * a transport): end it with the error of the drop, if there was one.
   */
  abandon(): void {
    if (this.detached) {
      this.env.logger.debug('connection.reconnect_window_expired', {
        hub: this.env.hubPath,
        connectionId: this.connectionId,
      });
    }
    this.closeWith(undefined, this.detachError);
  }

  private detach(error: Error): void {
    this.detached = true;
    this.detachError = error;
    this.buffer = EMPTY;
    this.backedUpSince = undefined;
    this.env.logger.debug('connection.transport_lost', {
      hub: this.env.hubPath,
      connectionId: this.connectionId,
      reason: error.message,
    });
    this.statefulHooks!.onDetached();
  }

  /** Counts an inbound message for stateful reconnect; false when it is not for the hub (18.6). */
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

  private authenticationExpired(): void {
    this.env.metrics.error(this.env.hubPath, 'SB_ERR_AUTHENTICATION_EXPIRED');
    this.env.logger.debug('connection.authentication_expired', {
      hub: this.env.hubPath,
      connectionId: this.connectionId,
    });
    // No error, and reconnecting allowed: the client comes back with a fresh token (8.5).
    this.closeWith({ type: MessageType.Close, allowReconnect: true }, undefined);
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
    if (closeMessage && (this.state === 'connected' || this.state === 'connecting'))
      this.writeOwn(closeMessage);
    this.transportImpl.close('graceful');
    this.end(error);
  }

  /**
   * The disconnect sequence (HubConnectionHandler's order): the hub's onDisconnected (only if its
   * onConnected succeeded), then the lifetime manager, then the metrics. Runs once.
   */
  private end(error: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.rateState) this.env.rateLimiter!.detach(this.userIdentifier);
    this.endError = error;
    this.buffer = EMPTY;
    this.pendingInvocations.length = 0;
    this.held.length = 0;
    this.abortController?.abort(error);
    this.onEnded(this);
    void this.runDisconnect(error).finally(() => {
      this.disconnectDone = true;
      this.resolveEnded?.();
    });
  }

  private async runDisconnect(error: Error | undefined): Promise<void> {
    if (this.hubConnected) {
      await this.env.dispatcher.onDisconnected(this, error);
      this.env.metrics.connectionClosed(
        this.env.hubPath,
        this.transport,
        this.env.clock.now - this.startedAt,
      );
    }
    if (this.managerConnected) {
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

  // ---- reading ----------------------------------------------------------------------------------

  /** Parses the handshake; returns true when it succeeded and hub messages may follow. */
  private readHandshake(): boolean {
    let parsed: ReturnType<typeof parseHandshakeRequest>;
    try {
      parsed = parseHandshakeRequest(this.buffer, this.env.options.maximumReceiveMessageSize);
    } catch (error) {
      if (error instanceof ProtocolError && error.code === 'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE') {
        this.failHandshake('Handshake was canceled.', 'handshake.too_large');
      } else {
        const detail = this.env.options.enableDetailedErrors
          ? ` ${exceptionTypeOf(error)}: ${errorMessage(error)}`
          : '';
        this.failHandshake(
          `An unexpected error occurred during connection handshake.${detail}`,
          'handshake.malformed',
        );
      }
      return false;
    }
    if (!parsed) return false;
    const { request, consumed } = parsed;
    const wanted = request.protocol.toLowerCase();
    const protocol = this.env.protocols.find((p) => p.name === wanted);
    if (!protocol) {
      this.failHandshake(
        `The protocol '${request.protocol}' is not supported.`,
        'handshake.unknown_protocol',
      );
      return false;
    }
    if (request.version > protocol.version || request.version < 0) {
      this.failHandshake(
        `The server does not support version ${request.version} of the '${request.protocol}' protocol.`,
        'handshake.unsupported_version',
      );
      return false;
    }
    if (protocol.transferFormat === 'Binary' && !this.transportImpl.supportsBinary) {
      this.failHandshake(
        `Cannot use the '${request.protocol}' protocol on the current transport. The transport does not support 'Binary' transfer format.`,
        'handshake.transfer_format',
      );
      return false;
    }
    this.hubProtocol = protocol;
    this.binary = protocol.transferFormat === 'Binary';
    // Stateful reconnect needs the negotiate's consent and a version 2 handshake (9.8).
    if (this.statefulHooks !== undefined && request.version >= 2) {
      this.messageBuffer = new MessageBuffer(this.env.options.statefulReconnectBufferSize);
    }
    this.buffer = this.buffer.subarray(consumed);
    // The reply goes out in the negotiated protocol's frame type, before anything else (9.3, 9.6).
    this.writeBytes(writeHandshakeResponse());
    this.state = 'connecting';
    void this.connect();
    return true;
  }

  private failHandshake(message: string, event: string): void {
    this.env.metrics.error(this.env.hubPath, 'SB_ERR_HANDSHAKE_FAILED');
    this.env.logger.debug(event, { hub: this.env.hubPath, connectionId: this.connectionId, reason: message });
    // Handshake replies are JSON text whatever the requested protocol.
    this.transportImpl.write(writeHandshakeResponse(message), this.binary);
    this.transportImpl.close('graceful');
    this.end(new SwitchboardError('SB_ERR_HANDSHAKE_FAILED', message));
  }

  /** Registers the connection, runs onConnected, then releases the messages that arrived meanwhile. */
  private async connect(): Promise<void> {
    try {
      await this.env.manager.onConnected(this);
      if (this.state !== 'connecting') {
        // Ended while the manager registered it: undo that, since end() did not know of it.
        await this.env.manager.onDisconnected(this);
        return;
      }
      this.managerConnected = true;
      this.rateState = this.env.rateLimiter?.attach(this.userIdentifier);
      await this.env.dispatcher.onConnected(this);
    } catch (error) {
      this.env.logger.warn('hub.on_connected_failed', {
        hub: this.env.hubPath,
        connectionId: this.connectionId,
        error: errorMessage(error),
      });
      this.env.metrics.error(this.env.hubPath, 'SB_ERR_ON_CONNECTED_FAILED');
      // allowReconnect stays false: the same failure would happen again (17.1).
      const text = buildErrorMessage(
        'Connection closed with an error.',
        error,
        this.env.options.enableDetailedErrors,
      );
      this.closeWith(
        { type: MessageType.Close, error: text },
        error instanceof Error ? error : new Error(String(error)),
      );
      return;
    }
    if (this.state !== 'connecting') {
      // Ended while onConnected ran: the hub still gets its onDisconnected.
      this.hubConnected = true;
      await this.runHubDisconnectLate();
      return;
    }
    this.hubConnected = true;
    this.state = 'connected';
    this.env.metrics.connectionOpened(this.env.hubPath, this.transport);
    this.drainHeld();
  }

  /** Handles the messages held back while connecting or while an upload stream was full, in order. */
  private drainHeld(): void {
    while (this.held.length > 0 && this.state === 'connected' && !this.streamsBlocked) {
      this.handleMessage(this.held.shift()!);
    }
  }

  /** Stops reading from the transport; every reason to pause counts, so resumes compose. */
  private pauseReading(): void {
    if (this.readPauses++ === 0) this.transportImpl.pause();
  }

  private resumeReading(): void {
    if (--this.readPauses > 0 || this.state === 'closed') return;
    // The client timeout counts again from now, not from before the pause.
    this.lastReceivedAt = this.env.clock.now;
    this.transportImpl.resume();
  }

  private async runHubDisconnectLate(): Promise<void> {
    await this.closed;
    await this.env.dispatcher.onDisconnected(this, this.endError);
  }

  private readMessages(): void {
    if (this.buffer.length === 0) return;
    let messages: HubMessage[];
    const total = this.buffer.length;
    try {
      const result = this.hubProtocol!.parseMessages(this.buffer, {
        maxMessageSize: this.env.options.maximumReceiveMessageSize,
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
      // While an upload stream is full nothing more is handled (13.9): the rest waits, in order.
      if (this.state === 'connecting' || this.held.length > 0 || this.streamsBlocked) this.held.push(message);
      else this.handleMessage(message);
    }
  }

  private protocolViolation(error: unknown): void {
    this.env.metrics.error(this.env.hubPath, 'SB_ERR_PROTOCOL_VIOLATION');
    this.env.logger.debug('connection.protocol_error', {
      hub: this.env.hubPath,
      connectionId: this.connectionId,
      reason: errorMessage(error),
    });
    const detail = ` ${exceptionTypeOf(error)}: ${errorMessage(error)}`;
    // allowReconnect: the reference closes with connection.AllowReconnect, true unless aborted (17.1).
    this.closeWith(
      {
        type: MessageType.Close,
        error: `Connection closed with an error.${this.env.options.enableDetailedErrors ? detail : ''}`,
        allowReconnect: true,
      },
      new SwitchboardError('SB_ERR_PROTOCOL_VIOLATION', errorMessage(error), { cause: error }),
    );
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
        // Upload streams open now, so that the items following a queued invocation are kept (13.8).
        this.streams.open(message);
        if (this.slots.tryTake()) {
          this.runInvocation(message);
        } else {
          // Back-pressure: stop reading until a slot frees (13.10). What was parsed already waits here.
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
        // The client is leaving (17.3): answer with our own Close, then end.
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
        // An upload stream's end, else a client result (13.11); unknown ids are ignored.
        if (!this.streams.complete(message)) this.setClientResult(message);
        return;
      case MessageType.Ack:
      case MessageType.Sequence:
        // Stateful reconnect uses these; ids this connection does not know are ignored (13.6, 13.8).
        return;
    }
  }

  /** Runs an Invocation in the slot it took; the method gives the slot back while it awaits client results. */
  private runInvocation(message: InvocationMessage): void {
    const slot = new InvocationSlotHandle(
      () => this.slots.take(),
      () => this.invocationDone(),
    );
    const uploads = this.streams.uploadsOf(message);
    this.env.dispatcher.invoke(this, message, { slot, uploads }).then(
      (completion) => {
        try {
          this.streams.close(message);
          if (completion) this.writeCompletion(completion, message.target);
        } finally {
          // Whatever happened to the Completion, the slot must free up, or the connection hangs.
          slot.finish();
        }
      },
      (error) => {
        this.env.logger.error('invocation.dispatch_failed', { hub: this.env.hubPath, error: error as Error });
        this.streams.close(message);
        slot.finish();
      },
    );
  }

  private invocationDone(): void {
    // A method that gave its slot back for a client result takes it first.
    if (!this.slots.free() || this.state !== 'connected') return;
    if (this.pendingInvocations.length === 0 || !this.slots.tryTake()) return;
    this.runInvocation(this.pendingInvocations.shift()!);
    if (this.pendingInvocations.length === 0) this.resumeReading();
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

  // ---- writing ----------------------------------------------------------------------------------

  /**
   * Writes a Completion. A result the protocol cannot serialize (a BigInt, a cycle) becomes the
   * error Completion of a failed method, so that the call still settles and the connection goes on.
   */
  private writeCompletion(completion: CompletionMessage, target: string): void {
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

  private writeOwn(message: HubMessage): void {
    if (this.state === 'closed' || !this.hubProtocol) return;
    this.writeBytes(this.hubProtocol.writeMessage(message), message);
  }

  /**
   * The one way out for hub messages. With stateful reconnect on, `message` is numbered and its
   * bytes kept for replay; while the transport is down they are only kept.
   */
  private writeBytes(bytes: Buffer, message?: HubMessage): void {
    const replayBuffer = this.messageBuffer;
    if (replayBuffer !== undefined) {
      if (message !== undefined) replayBuffer.recordSent(message, bytes);
      if (replayBuffer.size > this.env.options.maxSendBufferSize) {
        this.stalled(`More than ${this.env.options.maxSendBufferSize} bytes waited to be acknowledged.`);
        return;
      }
      if (this.detached) return;
    }
    this.lastWriteAt = this.env.clock.now;
    this.transportImpl.write(bytes, this.binary);
    this.env.metrics.messageSent(this.env.hubPath, bytes.length);
    if (this.transportImpl.bufferedAmount > this.env.options.maxSendBufferSize) {
      this.stalled(`More than ${this.env.options.maxSendBufferSize} bytes waited to be sent.`);
    }
  }

  /** The client stopped reading: cut it (a Close message could not get through anyway). */
  private stalled(reason: string): void {
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

function exceptionTypeOf(error: unknown): string {
  if (error instanceof ProtocolError) return error.exceptionType;
  if (error instanceof Error && error.name !== 'Error') return error.name;
  return 'Exception';
}
