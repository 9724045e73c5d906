import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type {
  ConnectionTransport,
  TransportCloseKind,
  TransportReceiver,
} from '../../connection/connection-transport.js';
import type { TimeProvider } from '../../time-provider.js';

/**
 * How long a graceful close waits for the client's close frame before cutting the socket
 * (docs/protocol.md#websocket-close-timeout).
 */
export const WEBSOCKET_CLOSE_TIMEOUT_MS = 5_000;

const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

/** Largest unshared message framed here in one buffer; bigger ones go through `ws` (no copy). */
const DIRECT_FRAME_MAX = 16 * 1024;

/**
 * The parts of a `ws` socket that writing pre-framed data relies on: the net socket it writes to,
 * and its Sender's state, DEFAULT (0) with nothing queued whenever no compression or Blob is
 * under way. Writing to the net socket then keeps the order of everything `ws` itself writes
 * (pongs, the close frame), since `ws` writes synchronously too.
 */
interface WsInternals {
  readonly _socket: Socket | null | undefined;
  readonly _sender: { readonly _state?: number; readonly _queue?: readonly unknown[] } | undefined;
}

/**
 * A WebSocket frame (RFC 6455 5.2) holding `data` as one unmasked, unfragmented text or binary
 * message: what `ws` writes as a header plus the payload, here in one buffer.
 */
export function frameMessage(data: Buffer, binary: boolean): Buffer {
  const length = data.length;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = binary ? 0x82 : 0x81; // FIN + opcode
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  data.copy(frame, headerLength);
  return frame;
}

// The frame of the last shared message: a broadcast writes the same bytes to every recipient,
// so it is framed once and the one frame buffer goes to every socket.
let sharedData: Buffer | undefined;
let sharedBinary = false;
let sharedFrame: Buffer | undefined;

function sharedFrameOf(data: Buffer, binary: boolean): Buffer {
  if (data !== sharedData || binary !== sharedBinary) {
    sharedFrame = frameMessage(data, binary);
    sharedData = data;
    sharedBinary = binary;
  }
  return sharedFrame!;
}

/**
 * The WebSockets transport over a `ws` socket (docs/protocol.md#websockets). Frames in are not
 * message boundaries: every frame's bytes go to the connection's parser. Frames out each carry
 * whole messages. A close frame from the client is a clean end; a dropped socket (1006) is not.
 */
export class WebSocketTransport implements ConnectionTransport {
  // Constants on the prototype, not fields of every instance.
  get name(): string {
    return 'WebSockets';
  }
  get supportsBinary(): boolean {
    return true;
  }
  get sendsKeepAlive(): boolean {
    return true;
  }
  private receiver: TransportReceiver | undefined;
  private closing = false;
  private failure: Error | undefined;
  /** No extension (permessage-deflate) was negotiated: frames may be written pre-built. */
  private readonly plainFrames: boolean;

  constructor(
    private readonly socket: WebSocket,
    private readonly time: TimeProvider,
  ) {
    this.plainFrames = socket.extensions === '';
  }

  /** Starts delivering the socket's events to `receiver`. */
  attach(receiver: TransportReceiver): void {
    this.receiver = receiver;
    this.socket.on('message', onMessage);
    this.socket.on('close', onClose);
    this.socket.on('error', onError);
    (this.socket as HubWebSocket).transport = this;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /**
   * Sends `data` as one message. Without extensions the frame is built here and written to the
   * net socket in one write (`shared` bytes are framed once for every socket that gets them);
   * otherwise, or while `ws` has something queued, `ws` frames it.
   */
  write(data: Buffer, binary: boolean, shared?: boolean): void {
    const socket = this.socket;
    if (socket.readyState !== 1) return;
    if (this.plainFrames && (shared || data.length <= DIRECT_FRAME_MAX)) {
      const internals = socket as unknown as WsInternals;
      const net = internals._socket;
      const sender = internals._sender;
      // Optional chaining: a `ws` whose internals differ falls back to its own send, never throws.
      if (net != null && sender?._state === 0 && sender._queue?.length === 0) {
        net.write(shared ? sharedFrameOf(data, binary) : frameMessage(data, binary));
        return;
      }
    }
    socket.send(data, binary ? BINARY : TEXT);
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
    // `ws` validates the UTF-8 of every text message (skipUTF8Validation is never set here) and
    // closes with 1007 on invalid bytes, so a text message arrives valid.
    this.receiver?.receive(data, binary, !binary);
  }

  /** @internal */
  handleError(error: Error): void {
    this.failure ??= error;
  }

  /** @internal */
  handleClose(code: number): void {
    (this.socket as HubWebSocket).transport = undefined;
    // 1006: the socket went away without a close frame. Every close frame from the client counts
    // as clean; the official client's own stop() sends none of its own code, which arrives as
    // 1005 (docs/protocol.md#websocket-close). A close that `ws` itself started over a bad frame
    // (too large: 1009, invalid UTF-8: 1007, protocol: 1002) follows an 'error' and is not clean.
    const clean = code !== 1006 && this.failure === undefined;
    const reason = this.failure
      ? `WebSocket closed with status code ${code}: ${this.failure.message}`
      : `WebSocket closed with status code ${code}.`;
    this.receiver?.transportEnded(clean, reason);
  }
}

/**
 * The `ws` socket class the server's WebSocket server makes: it holds its transport (the
 * listeners below are module-level functions that find it there, so that a connection costs no
 * closures, the `ws` library's own pattern, and no map entry), and closes with 1000 when no code is
 * given. `ws` answers a close frame that carries no code (what the official client's and browsers'
 * `close()` send) with a close frame without a code, which the peer reports as 1005; ASP.NET
 * answers 1000 NormalClosure, and the reference's raw `/echo` test checks it
 * (docs/protocol.md#websocket-close).
 */
export class HubWebSocket extends WebSocket {
  /** The transport over this socket, from {@link WebSocketTransport.attach} until it closes. */
  transport: WebSocketTransport | undefined = undefined;

  /** Made by `ws`'s server, as `new WebSocket(null, undefined, options)`. */
  constructor(address: null, protocols?: undefined, options?: WebSocket.ClientOptions) {
    // @ts-expect-error: passed on as given (the typings know only the one-argument form of it)
    super(address, protocols, options);
    // Node's EventEmitter starts its listener table as a null-prototype object, which V8 keeps as
    // a hash table (about 160 bytes); Node's own streams start theirs as an object with the event
    // names they use as properties instead. Done here for the events the transport listens to, it
    // takes that much off every connection. `ws` adds no listener to itself before this.
    (this as unknown as { _events: object })._events = {
      message: undefined,
      close: undefined,
      error: undefined,
    };
  }

  override close(code?: number, data?: string | Buffer): void {
    super.close(code ?? 1000, data);
  }
}

function onMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  (this as HubWebSocket).transport?.handleMessage(buffer, isBinary);
}

function onClose(this: WebSocket, code: number): void {
  (this as HubWebSocket).transport?.handleClose(code);
}

function onError(this: WebSocket, error: Error): void {
  // 'close' always follows 'error'; the connection learns of the end there.
  (this as HubWebSocket).transport?.handleError(error);
}
