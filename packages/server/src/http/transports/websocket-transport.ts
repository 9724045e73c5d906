import type { WebSocket } from 'ws';
import type {
  ConnectionTransport,
  TransportCloseKind,
  TransportReceiver,
} from '../../connection/connection-transport.js';
import type { TimeProvider } from '../../time-provider.js';

/** How long a graceful close waits for the client's close frame before cutting the socket (4.7). */
export const WEBSOCKET_CLOSE_TIMEOUT_MS = 5_000;

const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

/**
 * The WebSockets transport over a `ws` socket (signalr-protocol.md section 4). Frames in are not
 * message boundaries: every frame's bytes go to the connection's parser. Frames out each carry
 * whole messages. A close frame from the client is a clean end; a dropped socket (1006) is not.
 */
export class WebSocketTransport implements ConnectionTransport {
  readonly name = 'WebSockets';
  readonly supportsBinary = true;
  readonly sendsKeepAlive = true;
  private receiver: TransportReceiver | undefined;
  private closing = false;
  private failure: Error | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly time: TimeProvider,
  ) {}

  /** Starts delivering the socket's events to `receiver`. */
  attach(receiver: TransportReceiver): void {
    this.receiver = receiver;
    this.socket.on('message', onMessage);
    this.socket.on('close', onClose);
    this.socket.on('error', onError);
    transports.set(this.socket, this);
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  write(data: Buffer, binary: boolean): void {
    if (this.socket.readyState !== 1) return;
    this.socket.send(data, binary ? BINARY : TEXT);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(kind: TransportCloseKind): void {
    if (kind === 'abort') {
      this.socket.terminate();
      return;
    }
    if (this.closing) return;
    this.closing = true;
    // A paused socket would never read the client's close frame.
    if (this.socket.isPaused) this.socket.resume();
    this.socket.close(1000);
    const timer = this.time.setTimeout(() => this.socket.terminate(), WEBSOCKET_CLOSE_TIMEOUT_MS);
    this.socket.once('close', () => timer.cancel());
  }

  /** @internal */
  handleMessage(data: Buffer, binary: boolean): void {
    this.receiver?.receive(data, binary);
  }

  /** @internal */
  handleError(error: Error): void {
    this.failure ??= error;
  }

  /** @internal */
  handleClose(code: number): void {
    transports.delete(this.socket);
    // 1006: the socket went away without a close frame. Every close frame from the client counts
    // as clean; the official client's own stop() sends none of its own code, which arrives as
    // 1005 (4.6). A close that `ws` itself started over a bad frame (too large: 1009, invalid
    // UTF-8: 1007, protocol: 1002) follows an 'error' and is not clean.
    const clean = code !== 1006 && this.failure === undefined;
    const reason = this.failure
      ? `WebSocket closed with status code ${code}: ${this.failure.message}`
      : `WebSocket closed with status code ${code}.`;
    this.receiver?.transportEnded(clean, reason);
  }
}

// Listeners are module-level functions that find their transport through a map, so that a
// connection costs no closures (the `ws` library's own pattern).
const transports = new WeakMap<WebSocket, WebSocketTransport>();

function onMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  transports.get(this)?.handleMessage(buffer, isBinary);
}

function onClose(this: WebSocket, code: number): void {
  transports.get(this)?.handleClose(code);
}

function onError(this: WebSocket, error: Error): void {
  // 'close' always follows 'error'; the connection learns of the end there.
  transports.get(this)?.handleError(error);
}
