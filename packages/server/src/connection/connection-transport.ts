/**
 * The duplex a connection talks through. Each transport (WebSockets, Server-Sent Events, long
 * polling) adapts its I/O to this.
 * @module
 */

/** How a transport closes. */
export type TransportCloseKind =
  /** Flush what is queued, then close cleanly (WebSocket 1000). */
  | 'graceful'
  /** Cut the connection at once, dropping what is queued. */
  | 'abort';

/** A transport as the hub connection sees it. */
export interface ConnectionTransport {
  /** `WebSockets`, `ServerSentEvents` or `LongPolling`. */
  readonly name: string;
  /** Whether the transport can carry binary data (for the MessagePack protocol). */
  readonly supportsBinary: boolean;
  /** Bytes queued and not yet handed to the network. */
  readonly bufferedAmount: number;
  /**
   * Whether the connection sends keep-alive Ping messages over this transport. Long polling has
   * its own keep-alive and sets this false (docs/protocol.md#long-polling-keep-alive). Default true.
   */
  readonly sendsKeepAlive?: boolean;
  /**
   * Queues `data` (one or more whole hub messages) as one transport message, as text or binary.
   * Never throws; a failed write ends the transport, which reports it through its end callback.
   * `shared` says that the same buffer goes to many connections and is never modified (a
   * broadcast's serialized message), so that a transport may do its own per-message work (the
   * WebSocket frame) once for all of them.
   */
  write(data: Buffer, binary: boolean, shared?: boolean): void;
  /** Stops reading from the client (back-pressure), until {@link resume}. */
  pause(): void;
  /** Reads again. */
  resume(): void;
  /** Ends the transport. */
  close(kind: TransportCloseKind): void;
}

/** What a transport reports to its hub connection. */
export interface TransportReceiver {
  /**
   * Bytes arrived from the client. `binary` tells a binary WebSocket frame or an
   * `application/octet-stream` POST body from text (only raw connections care). `utf8Valid`: the
   * transport has checked that `data` is valid UTF-8 (a text WebSocket message), so a text
   * protocol need not check again.
   */
  receive(data: Buffer, binary?: boolean, utf8Valid?: boolean): void;
  /**
   * The transport ended. `clean` is true when the client closed it properly (a WebSocket close
   * frame) or the server did; false for a dropped network or a killed client.
   */
  transportEnded(clean: boolean, reason?: string): void;
}
