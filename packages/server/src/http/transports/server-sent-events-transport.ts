import type { ServerResponse } from 'node:http';
import type {
  ConnectionTransport,
  TransportCloseKind,
  TransportReceiver,
} from '../../connection/connection-transport.js';
import { ReceiveGate } from './receive-gate.js';

const PREAMBLE = Buffer.from(':\r\n', 'latin1');
const DATA = Buffer.from('data: ', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const LF = 0x0a;
const CR = 0x0d;

/**
 * Frames one transport message as one Server-Sent Event (ServerSentEventsMessageFormatter): each
 * line of the payload becomes `data: <line>\r\n` (a trailing `\r` dropped), and a blank line ends
 * the event. JSON payloads never hold a raw newline, so the common case is one `data:` line.
 */
export function formatServerSentEvent(payload: Buffer): Buffer {
  if (payload.length === 0) return CRLF;
  if (payload.indexOf(LF) === -1) return Buffer.concat([DATA, payload, CRLF, CRLF]);
  const parts: Buffer[] = [];
  let start = 0;
  while (start <= payload.length) {
    let end = payload.indexOf(LF, start);
    if (end === -1) end = payload.length;
    let lineEnd = end;
    if (lineEnd > start && payload[lineEnd - 1] === CR) lineEnd--;
    parts.push(DATA, payload.subarray(start, lineEnd), CRLF);
    if (end === payload.length) break;
    start = end + 1;
  }
  parts.push(CRLF);
  return Buffer.concat(parts);
}

/**
 * The Server-Sent Events transport (docs/protocol.md#server-sent-events): server-to-client over one
 * long `text/event-stream` response, client-to-server through POST requests that the HTTP layer
 * hands to {@link receive}. Text only.
 */
export class ServerSentEventsTransport implements ConnectionTransport {
  readonly name = 'ServerSentEvents';
  readonly supportsBinary = false;
  readonly sendsKeepAlive = true;
  private receiver: TransportReceiver | undefined;
  private ended = false;
  /** Holds POST answers while the connection is paused. */
  readonly gate = new ReceiveGate();

  constructor(private readonly res: ServerResponse) {}

  /**
   * Starts the event stream: headers, then the `:` comment that fires the client's `open`
   * (docs/protocol.md#sse-open).
   */
  start(receiver: TransportReceiver): void {
    this.receiver = receiver;
    this.res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache,no-store',
      Pragma: 'no-cache',
      'Content-Encoding': 'identity',
      'X-Accel-Buffering': 'no',
    });
    this.res.socket?.setNoDelay(true);
    this.res.write(PREAMBLE);
    this.res.on('close', () => {
      if (this.ended) return;
      this.ended = true;
      // The client closed its EventSource: how its stop() ends an SSE connection (docs/protocol.md#sse-end).
      this.receiver?.transportEnded(true, 'The event stream was closed by the client.');
    });
  }

  get bufferedAmount(): number {
    return this.res.writableLength;
  }

  /** Bytes from a POST to this connection. */
  receive(data: Buffer, binary = false): void {
    this.receiver?.receive(data, binary);
  }

  write(data: Buffer): void {
    if (this.ended || this.res.writableEnded) return;
    this.res.write(formatServerSentEvent(data));
  }

  pause(): void {
    this.gate.close();
  }

  resume(): void {
    this.gate.open();
  }

  close(kind: TransportCloseKind): void {
    if (this.ended) return;
    this.ended = true;
    this.gate.open();
    if (kind === 'abort') this.res.destroy();
    else this.res.end();
  }
}
