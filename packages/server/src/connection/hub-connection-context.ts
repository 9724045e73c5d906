import {
  MessageType,
  PING_MESSAGE,
  RECORD_SEPARATOR,
  readLengthPrefix,
  writeHandshakeResponse,
} from '@switchboard/protocol';
import type { Principal } from '../auth/authentication.js';
import { buildErrorMessage, errorMessage, SwitchboardError } from '../errors.js';
import { compactRequestInfo, type HttpRequestInfo } from '../http/http-request-info.js';
import type { ConnectionTransport, TransportReceiver } from './connection-transport.js';
import { acceptHandshake } from './handshake.js';
import {
  EMPTY,
  F_BINARY,
  F_CLIENT_TIMEOUT_ARMED,
  F_DETACHED,
  F_FIRST_TRANSPORT_RETIRED,
  F_HUB_CONNECTED,
  F_MANAGER_CONNECTED,
  type HubConnectionEnvironment,
  type StatefulReconnectHooks,
} from './hub-connection-core.js';
import { HOLD_CONNECTING, HubMessageDispatch } from './hub-message-dispatch.js';
import { MessageBuffer } from './message-buffer.js';

export type {
  HeartbeatClock,
  HubConnectionEnvironment,
  StatefulReconnectHooks,
} from './hub-connection-core.js';

/**
 * What a {@link HubConnectionContext} tells when it ends, as an object (an owner kept anyway can
 * be it, where a function would be one more object per connection).
 */
export interface ConnectionEndListener {
  /** The connection ended (the disconnect sequence starts). */
  ended(connection: HubConnectionContext): void;
}

/**
 * One client connection of a hub (ASP.NET's HubConnectionContext plus the message loop of
 * HubConnectionHandler): the handshake (handshake.ts), keep-alive, the client timeout, the send
 * timeout and stateful reconnect. Parsing and dispatch with the parallel invocation limit live in
 * {@link HubMessageDispatch}; state, writing and the Close rules of docs/protocol.md#close
 * in {@link HubConnectionCore}. Timers are not its own: {@link tick} runs on the server's heartbeat.
 */
export class HubConnectionContext extends HubMessageDispatch implements TransportReceiver {
  constructor(
    connectionId: string,
    user: Principal | undefined,
    request: HttpRequestInfo,
    transport: ConnectionTransport,
    env: HubConnectionEnvironment,
    /** Told once, as the disconnect sequence starts: a function, or an object with `ended`. */
    private readonly onEnded: ((connection: HubConnectionContext) => void) | ConnectionEndListener,
    statefulHooks?: StatefulReconnectHooks,
  ) {
    super(connectionId, user, request, transport, env, statefulHooks);
  }

  /** Hands the ended connection to its owner (the HTTP layer disposes it). */
  protected notifyEnded(): void {
    const listener = this.onEnded;
    if (typeof listener === 'function') listener(this);
    else listener.ended(this);
  }

  // ---- TransportReceiver -----------------------------------------------------------------

  receive(data: Buffer, _binary?: boolean, utf8Valid?: boolean): void {
    if ((this.flags & F_FIRST_TRANSPORT_RETIRED) !== 0) return;
    this.receiveData(data, utf8Valid === true);
  }

  transportEnded(clean: boolean, reason?: string): void {
    if ((this.flags & F_FIRST_TRANSPORT_RETIRED) !== 0) return;
    this.transportLost(clean, reason);
  }

  private receiveData(data: Buffer, utf8Valid: boolean): void {
    if (this.state === 'closed') return;
    this.lastReceivedAt = this.env.clock.now;
    this.received(data, utf8Valid);
    if (this.state === 'handshake') {
      if (!this.readHandshake()) return;
    }
    this.readMessages();
  }

  /** Whether the bytes not read yet end in the middle of a message (not on a message boundary). */
  private endsMidMessage(): boolean {
    if (this.inbox !== undefined) {
      this.buffer = Buffer.concat([this.buffer, ...this.inbox]);
      this.inbox = undefined;
    }
    const bytes = this.buffer;
    if (bytes.length === 0) return false;
    if ((this.flags & F_BINARY) === 0) return bytes[bytes.length - 1] !== RECORD_SEPARATOR;
    let offset = 0;
    while (offset < bytes.length) {
      const prefix = readLengthPrefix(bytes, offset);
      if (prefix === null) return true;
      offset += prefix.prefixSize + prefix.length;
    }
    return offset !== bytes.length;
  }

  private transportLost(clean: boolean, reason?: string): void {
    if (this.state === 'closed' || (this.flags & F_DETACHED) !== 0) return;
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
    } else if (this.state !== 'handshake' && this.endsMidMessage()) {
      // Half a message was left: the reference's InvalidDataException (docs/protocol.md#message-size-limit).
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
      ((this.flags & F_DETACHED) === 0 && this.transportImpl.bufferedAmount > o.sendBufferHighWaterMark) ||
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
    if ((this.flags & F_DETACHED) !== 0) return;
    if (this.authExpiresAt !== undefined && Date.now() >= this.authExpiresAt) {
      this.authenticationExpired();
      return;
    }
    if (replayBuffer !== undefined) {
      // Acknowledge what arrived since the last tick (docs/protocol.md#acks).
      const ack = replayBuffer.takeAck();
      if (ack !== undefined) this.writeOwn({ type: MessageType.Ack, sequenceId: ack });
    }
    // While invocations wait for a slot the server itself stopped reading, so the client's silence
    // is not the client's doing: the timeout pauses, as the reference's does during dispatch
    // (docs/protocol.md#keep-alive).
    const reading = this.readPauses === 0;
    if (
      (this.flags & F_CLIENT_TIMEOUT_ARMED) !== 0 &&
      reading &&
      now - this.lastReceivedAt >= o.clientTimeoutIntervalMs
    ) {
      this.env.metrics.error(this.env.hubPath, 'SB_ERR_CLIENT_TIMEOUT');
      this.closeStatus = 'timeout';
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
    // No Ping messages on long polling: its polls are the keep-alive
    // (docs/protocol.md#long-polling-keep-alive).
    if (this.transportImpl.sendsKeepAlive !== false && now - this.lastWriteAt >= o.keepAliveIntervalMs)
      this.writeOwn(PING_MESSAGE);
  }

  // ---- stateful reconnect (docs/protocol.md#stateful-reconnect) -------------------------------

  /** Whether a new transport may take over this connection (stateful reconnect is on, not ended). */
  get canResume(): boolean {
    return this.messageBuffer !== undefined && (this.state === 'connected' || this.state === 'connecting');
  }

  /**
   * Carries on over `transport`, the client's new WebSocket after a drop
   * (docs/protocol.md#resuming): the server's Sequence goes first, then every message the client
   * has not acknowledged, in order; then the connection goes on as before. A transport still
   * thought alive is cut. `user` is the new request's user, whose credentials' expiry replaces the
   * old one. Returns the receiver the new transport reports to, or undefined when the connection
   * cannot resume.
   */
  resume(transport: ConnectionTransport, user?: Principal): TransportReceiver | undefined {
    const replayBuffer = this.messageBuffer;
    if (replayBuffer === undefined || !this.canResume) return undefined;
    // The new request's credentials count from now on (a fresh token lasts longer).
    if (this.authExpiresAt !== undefined && user?.userId === this.user?.userId) {
      this.authExpiresAt = user?.expiresAt;
    }
    const previous = this.transportImpl;
    const wasDetached = (this.flags & F_DETACHED) !== 0;
    this.transportImpl = transport;
    this.flags |= F_FIRST_TRANSPORT_RETIRED;
    this.flags &= ~F_DETACHED;
    this.detachError = undefined;
    this.buffer = EMPTY; // a message cut in half by the drop comes again whole
    this.inbox = undefined;
    this.lastReceivedAt = this.env.clock.now;
    this.backedUpSince = undefined;
    if (!wasDetached) previous.close('abort');
    if (this.readPauses > 0) transport.pause();
    this.env.logger.debug('connection.resumed', { hub: this.env.hubPath, connectionId: this.connectionId });
    const replay = replayBuffer.replay();
    // The client drops everything until it has seen a Sequence (docs/protocol.md#resuming).
    this.writeOwn({ type: MessageType.Sequence, sequenceId: replay.sequenceId });
    for (const bytes of replay.messages) {
      transport.write(bytes, (this.flags & F_BINARY) !== 0);
      this.env.metrics.messageSent(this.env.hubPath, bytes.length);
    }
    return {
      receive: (data, _binary, utf8Valid) => {
        if (this.transportImpl === transport) this.receiveData(data, utf8Valid === true);
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
    if ((this.flags & F_DETACHED) !== 0) {
      this.env.logger.debug('connection.reconnect_window_expired', {
        hub: this.env.hubPath,
        connectionId: this.connectionId,
      });
    }
    this.closeWith(undefined, this.detachError);
  }

  private detach(error: Error): void {
    this.flags |= F_DETACHED;
    this.detachError = error;
    this.buffer = EMPTY;
    this.inbox = undefined;
    this.backedUpSince = undefined;
    this.env.logger.debug('connection.transport_lost', {
      hub: this.env.hubPath,
      connectionId: this.connectionId,
      reason: error.message,
    });
    this.statefulHooks!.onDetached();
  }

  private authenticationExpired(): void {
    this.env.metrics.error(this.env.hubPath, 'SB_ERR_AUTHENTICATION_EXPIRED');
    this.env.logger.debug('connection.authentication_expired', {
      hub: this.env.hubPath,
      connectionId: this.connectionId,
    });
    // No error, and reconnecting allowed: the client comes back with a fresh token
    // (docs/protocol.md#auth-expiration).
    this.closeWith({ type: MessageType.Close, allowReconnect: true }, undefined);
  }

  // ---- handshake --------------------------------------------------------------------------------

  /** Parses the handshake; returns true when it succeeded and hub messages may follow. */
  private readHandshake(): boolean {
    const outcome = acceptHandshake(
      this.buffer,
      this.env.protocols,
      this.env.options,
      this.transportImpl.supportsBinary,
    );
    if (outcome === undefined) return false;
    if (!outcome.ok) {
      this.failHandshake(outcome.message, outcome.event);
      return false;
    }
    const protocol = outcome.protocol;
    this.hubProtocol = protocol;
    if (protocol.transferFormat === 'Binary') this.flags |= F_BINARY;
    // Stateful reconnect needs the negotiate's consent and a version 2 handshake
    // (docs/protocol.md#stateful-reconnect-opt-in).
    if (this.statefulHooks !== undefined && outcome.version >= 2) {
      this.messageBuffer = new MessageBuffer(this.env.options.statefulReconnectBufferSize);
    }
    // Nothing after the handshake (the usual case): drop the received bytes rather than keep a
    // zero-length view of them for the life of the connection.
    this.buffer = outcome.consumed === this.buffer.length ? EMPTY : this.buffer.subarray(outcome.consumed);
    // The reply (docs/protocol.md#handshake-reply) waits until the lifetime manager registered
    // the connection (see connect()).
    this.holdUntilHandshakeReply();
    this.state = 'connecting';
    void this.connect();
    return true;
  }

  private failHandshake(message: string, event: string): void {
    this.env.metrics.error(this.env.hubPath, 'SB_ERR_HANDSHAKE_FAILED');
    this.env.logger.debug(event, { hub: this.env.hubPath, connectionId: this.connectionId, reason: message });
    // Handshake replies are JSON text whatever the requested protocol.
    this.transportImpl.write(writeHandshakeResponse(message), (this.flags & F_BINARY) !== 0);
    this.transportImpl.close('graceful');
    this.end(new SwitchboardError('SB_ERR_HANDSHAKE_FAILED', message));
  }

  /**
   * Runs the hub's `onConnecting` hook (which may refuse the connection or change its user),
   * registers the connection with the lifetime manager, answers the handshake, runs onConnected,
   * then releases the messages that arrived meanwhile. The handshake answer waits for the manager:
   * on a backplane the node subscribes to the connection's and user's channels first, so a send
   * from another node made as soon as the client is connected cannot be lost (a send that reaches
   * the connection in between is written right after the answer).
   */
  private async connect(): Promise<void> {
    try {
      const connecting = this.env.options.onConnecting;
      if (connecting !== undefined) {
        const outcome = await connecting(this);
        // Ended while the hook ran: nothing was registered yet.
        if (this.state !== 'connecting') return;
        if (outcome?.userIdentifier !== undefined) this.currentUser = outcome.userIdentifier;
      }
      await this.env.manager.onConnected(this);
      if (this.state !== 'connecting') {
        // Ended while the manager registered it: undo that, since end() did not know of it.
        await this.env.manager.onDisconnected(this);
        return;
      }
      this.writeHandshakeReply();
      this.flags |= F_MANAGER_CONNECTED;
      this.rateState = this.env.rateLimiter?.attach(this.userIdentifier);
      await this.env.dispatcher.onConnected(this);
    } catch (error) {
      this.env.logger.warn('hub.on_connected_failed', {
        hub: this.env.hubPath,
        connectionId: this.connectionId,
        error: errorMessage(error),
      });
      this.env.metrics.error(this.env.hubPath, 'SB_ERR_ON_CONNECTED_FAILED');
      // allowReconnect stays false: the same failure would happen again (docs/protocol.md#server-close).
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
      this.flags |= F_HUB_CONNECTED;
      await this.runHubDisconnectLate();
      return;
    }
    this.flags |= F_HUB_CONNECTED;
    this.state = 'connected';
    // Kept from now on for the life of the connection: in its compact form.
    compactRequestInfo(this.request);
    this.env.metrics.connectionOpened(this.env.hubPath, this.transport);
    this.releaseReading(HOLD_CONNECTING);
  }

  private async runHubDisconnectLate(): Promise<void> {
    await this.closed;
    await this.env.dispatcher.onDisconnected(this, this.endError);
  }
}
