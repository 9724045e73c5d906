import type { ServerResponse } from 'node:http';
import type {
  ConnectionTransport,
  TransportCloseKind,
  TransportReceiver,
} from '../../connection/connection-transport.js';
import type { TimeProvider, TimerHandle } from '../../time-provider.js';
import { ReceiveGate } from './receive-gate.js';

/** How long a poll waits for data before answering 200 with an empty body (docs/protocol.md#poll-timeout). */
export const DEFAULT_POLL_TIMEOUT_MS = 90_000;

const NO_CACHE = {
  'Cache-Control': 'no-cache, no-store',
  Pragma: 'no-cache',
  Expires: 'Thu, 01 Jan 1970 00:00:00 GMT',
} as const;

/** Callbacks to the HTTP layer, which tracks whether a poll is pending for the disconnect timeout. */
export interface LongPollingHooks {
  /** A poll is now waiting (the connection is active). */
  pollStarted(): void;
  /** No poll is waiting (the connection is inactive until the next one). */
  pollEnded(): void;
  /** The transport is over: the last poll got its 204. */
  finished(): void;
}

/**
 * The long-polling transport (docs/protocol.md#long-polling). Server-to-client data queues here
 * until a poll takes all of it; a poll with nothing to take waits up to the poll timeout. 200 with
 * an empty body means "no data, poll again"; 204 means "the connection is over".
 * Client-to-server data comes in POSTs, handed to {@link receive}.
 */
export class LongPollingTransport implements ConnectionTransport {
  readonly name = 'LongPolling';
  readonly supportsBinary = true;
  /**
   * Long polling has its own keep-alive: no Ping messages either way
   * (docs/protocol.md#long-polling-keep-alive).
   */
  readonly sendsKeepAlive = false;
  /** Holds POST answers while the connection is paused. */
  readonly gate = new ReceiveGate();
  private receiver: TransportReceiver | undefined;
  private queue: Buffer[] = [];
  private queued = 0;
  private poll: { res: ServerResponse; timer: TimerHandle } | undefined;
  private ending = false;
  private done = false;

  constructor(
    private readonly time: TimeProvider,
    private readonly hooks: LongPollingHooks,
    private readonly pollTimeoutMs = DEFAULT_POLL_TIMEOUT_MS,
  ) {}

  /**
   * Connects the hub connection; the first poll is then answered at once, empty
   * (docs/protocol.md#first-poll).
   */
  start(receiver: TransportReceiver, firstPoll: ServerResponse): void {
    this.receiver = receiver;
    firstPoll.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': 0,
      ...NO_CACHE,
    });
    firstPoll.end();
    this.hooks.pollEnded();
  }

  get bufferedAmount(): number {
    return this.queued;
  }

  /** Whether the transport is over: the client was told (204) or will be told nothing more. */
  get isFinished(): boolean {
    return this.done;
  }

  /** Bytes from a POST to this connection. */
  receive(data: Buffer, binary = false): void {
    this.receiver?.receive(data, binary);
  }

  write(data: Buffer): void {
    if (this.ending || this.done) return;
    this.queue.push(data);
    this.queued += data.length;
    if (this.poll) this.flush();
  }

  /** A new poll. A poll still pending is finished with 204 first (docs/protocol.md#poll-superseded). */
  handlePoll(res: ServerResponse): void {
    if (this.done) {
      this.answer(res, 204);
      return;
    }
    if (this.poll) {
      const old = this.poll;
      this.poll = undefined;
      old.timer.cancel();
      this.answer(old.res, 204);
    }
    if (this.queued > 0) {
      this.poll = { res, timer: NO_TIMER };
      this.hooks.pollStarted();
      this.flush();
      return;
    }
    if (this.ending) {
      this.finish(res);
      return;
    }
    const timer = this.time.setTimeout(() => this.timeoutPoll(res), this.pollTimeoutMs);
    this.poll = { res, timer };
    this.hooks.pollStarted();
    res.on('close', () => {
      // The client gave up on this poll (its own timeout, or stop()): wait for the next one.
      if (this.poll?.res !== res) return;
      this.poll.timer.cancel();
      this.poll = undefined;
      this.hooks.pollEnded();
    });
  }

  /**
   * DELETE from the client (docs/protocol.md#long-polling-delete): ends the connection and any pending poll.
   */
  handleDelete(): void {
    this.close('abort');
    this.receiver?.transportEnded(true, 'The client ended the long-polling connection.');
  }

  pause(): void {
    this.gate.close();
  }

  resume(): void {
    this.gate.open();
  }

  close(kind: TransportCloseKind): void {
    if (this.done) return;
    this.gate.open();
    if (kind === 'abort') {
      this.queue = [];
      this.queued = 0;
    }
    this.ending = true;
    if (this.poll) {
      const { res, timer } = this.poll;
      this.poll = undefined;
      timer.cancel();
      if (this.queued > 0) {
        // The last data (the Close message) goes out now; the next poll gets 204
        // (docs/protocol.md#long-polling-end).
        this.poll = { res, timer: NO_TIMER };
        this.flush();
      } else {
        this.finish(res);
      }
    } else if (this.queued === 0 && kind === 'abort') {
      this.done = true;
      this.hooks.finished();
    }
    // A graceful end with no poll pending (a raw connection's application ended between polls):
    // the connection stays until the next poll, which gets the 204 that tells the client it is over
    // (docs/protocol.md#long-polling-end); a POST meanwhile is accepted and dropped, as the
    // reference does; a client that never polls again is swept by the disconnect timeout.
  }

  private flush(): void {
    const poll = this.poll;
    if (!poll || this.queued === 0) return;
    this.poll = undefined;
    poll.timer.cancel();
    const body = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue, this.queued);
    this.queue = [];
    this.queued = 0;
    poll.res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': body.length,
      ...NO_CACHE,
    });
    poll.res.end(body);
    // When ending, the next poll gets the 204 that tells the client it is over
    // (docs/protocol.md#long-polling-end).
    this.hooks.pollEnded();
  }

  private timeoutPoll(res: ServerResponse): void {
    if (this.poll?.res !== res) return;
    this.poll = undefined;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 0, ...NO_CACHE });
    res.end();
    this.hooks.pollEnded();
  }

  private finish(res: ServerResponse): void {
    this.answer(res, 204);
    this.done = true;
    this.hooks.pollEnded();
    this.hooks.finished();
  }

  private answer(res: ServerResponse, status: number): void {
    if (res.headersSent) return;
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': 0, ...NO_CACHE });
    res.end();
  }
}

const NO_TIMER: TimerHandle = { cancel() {} };
