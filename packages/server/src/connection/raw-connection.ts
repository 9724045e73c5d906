/**
 * Raw connections (`HubServer.mapConnection`): the negotiate and the three transports without the
 * hub protocol. No handshake, no pings: every payload the client sends is handed over as it came,
 * and every `send` is one transport message (ASP.NET's ConnectionHandler, as the functional tests'
 * `/echo` endpoint uses it).
 * @module
 */
import type { Principal } from '../auth/authentication.js';
import type { ConnectionApplication } from '../http/http-connection-manager.js';
import type { HttpRequestInfo } from '../http/http-request-info.js';
import type { Logger } from '../logger.js';
import type { TransportType } from '../options.js';
import type { ConnectionTransport, TransportReceiver } from './connection-transport.js';

/** One client of a `mapConnection` endpoint. */
export interface RawConnection {
  /** The public connection id from negotiate. */
  readonly connectionId: string;
  /** The request that started the transport (the upgrade, the SSE GET, the first poll). */
  readonly request: HttpRequestInfo;
  /** The user the request authenticated as, if any. */
  readonly user: Principal | undefined;
  /** `WebSockets`, `ServerSentEvents` or `LongPolling`. */
  readonly transport: TransportType;
  /** Resolves once the connection has ended, whichever side ended it. */
  readonly closed: Promise<void>;
  /** Whether it has ended. */
  readonly isClosed: boolean;
  /**
   * Receives every payload the client sends: one WebSocket message or one POST body, as a Buffer;
   * `isBinary` for a binary frame or an `application/octet-stream` body. Payloads that arrive
   * before the first listener is added wait for it.
   */
  onMessage(listener: (data: Buffer, isBinary: boolean) => void): void;
  /** Sends one transport message: a string as text, a Buffer as binary (WebSockets) or as is. */
  send(data: string | Buffer): void;
  /** Ends the connection cleanly (WebSocket 1000, the event stream ends, the next poll gets 204). */
  close(): void;
}

/** Called once for every connection that starts on a `mapConnection` endpoint. */
export type RawConnectionHandler = (connection: RawConnection) => void | Promise<void>;

/** The server side of one raw connection. */
export class RawConnectionContext implements RawConnection, TransportReceiver, ConnectionApplication {
  private readonly listeners: ((data: Buffer, isBinary: boolean) => void)[] = [];
  private waiting: [Buffer, boolean][] = [];
  private ended = false;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    readonly connectionId: string,
    readonly user: Principal | undefined,
    readonly request: HttpRequestInfo,
    private readonly transportImpl: ConnectionTransport,
    private readonly options: {
      readonly path: string;
      readonly logger: Logger;
      readonly maxSendBufferSize: number;
      readonly onEnded: () => void;
    },
  ) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  get transport(): TransportType {
    return this.transportImpl.name as TransportType;
  }

  get isClosed(): boolean {
    return this.ended;
  }

  onMessage(listener: (data: Buffer, isBinary: boolean) => void): void {
    this.listeners.push(listener);
    if (this.listeners.length === 1 && this.waiting.length > 0) {
      const waiting = this.waiting;
      this.waiting = [];
      for (const [data, binary] of waiting) this.deliver(data, binary);
    }
  }

  send(data: string | Buffer): void {
    if (this.ended) return;
    const binary = typeof data !== 'string';
    this.transportImpl.write(binary ? data : Buffer.from(data, 'utf8'), binary);
    if (this.transportImpl.bufferedAmount > this.options.maxSendBufferSize) {
      this.options.logger.warn('connection.send_timeout', {
        path: this.options.path,
        connectionId: this.connectionId,
        reason: `More than ${this.options.maxSendBufferSize} bytes waited to be sent.`,
      });
      this.transportImpl.close('abort');
      this.end();
    }
  }

  close(): void {
    if (this.ended) return;
    this.transportImpl.close('graceful');
    this.end();
  }

  // ---- TransportReceiver ----------------------------------------------------------------------

  receive(data: Buffer, binary = false): void {
    if (this.ended) return;
    if (this.listeners.length === 0) this.waiting.push([data, binary]);
    else this.deliver(data, binary);
  }

  transportEnded(): void {
    this.end();
  }

  // ---- ConnectionApplication --------------------------------------------------------------------

  tick(): void {
    // No handshake, no keep-alive: nothing to time.
  }

  shutdown(): Promise<void> {
    this.close();
    return this.closed;
  }

  abandon(): void {
    if (this.ended) return;
    this.transportImpl.close('abort');
    this.end();
  }

  /** Runs the endpoint's handler; a handler that throws closes the connection. */
  start(handler: RawConnectionHandler): void {
    const failed = (error: unknown) => {
      this.options.logger.error('connection.handler_failed', {
        path: this.options.path,
        connectionId: this.connectionId,
        error: error as Error,
      });
      this.close();
    };
    try {
      const result = handler(this);
      if (result && typeof result.then === 'function') result.then(undefined, failed);
    } catch (error) {
      failed(error);
    }
  }

  private deliver(data: Buffer, binary: boolean): void {
    for (const listener of this.listeners) {
      try {
        listener(data, binary);
      } catch (error) {
        this.options.logger.error('connection.listener_failed', {
          path: this.options.path,
          connectionId: this.connectionId,
          error: error as Error,
        });
      }
      if (this.ended) return;
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.waiting = [];
    this.options.onEnded();
    this.resolveClosed();
  }
}
