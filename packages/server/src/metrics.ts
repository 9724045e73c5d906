/**
 * Metrics hooks. The server calls a {@link HubMetrics} at each event; an app exports the numbers
 * however it likes (Prometheus, OpenTelemetry). {@link CounterMetrics} keeps plain counters.
 * @module
 */

/** The `method` of {@link HubMetrics.invocationCompleted} for a target the hub does not have. */
export const UNKNOWN_METHOD_LABEL = 'unknown';

/**
 * How a connection ended, as ASP.NET Core's `signalr.connection.status` says it: closed by either
 * side, timed out (the client went silent or its transport never came back), or ended by the
 * server's shutdown.
 */
export type ConnectionCloseStatus = 'normal_closure' | 'timeout' | 'app_shutdown';

/** The events the server reports. Every method is called synchronously and must not throw. */
export interface HubMetrics {
  /** A connection finished its handshake on `hub` over `transport`. */
  connectionOpened(hub: string, transport: string): void;
  /** A connection ended after `durationMs`, for the reason `status` (`normal_closure` when absent). */
  connectionClosed(hub: string, transport: string, durationMs: number, status?: ConnectionCloseStatus): void;
  /** `bytes` arrived from a client carrying `messages` hub messages. */
  messagesReceived(hub: string, messages: number, bytes: number): void;
  /** `bytes` were written to a client (one write, possibly several hub messages). */
  messageSent(hub: string, bytes: number): void;
  /**
   * A hub method finished: `ok` false when it failed. `method` is the hub's declared name of the
   * method, whatever the case the client used, or {@link UNKNOWN_METHOD_LABEL} for a target that
   * is none of the hub's methods (label values stay bounded).
   */
  invocationCompleted(hub: string, method: string, ok: boolean, durationMs: number): void;
  /** An error with a catalogue code happened (protocol violation, timeout, failed write …). */
  error(hub: string, code: string): void;
}

/** Metrics that go nowhere: the default. */
export const noopMetrics: HubMetrics = {
  connectionOpened() {},
  connectionClosed() {},
  messagesReceived() {},
  messageSent() {},
  invocationCompleted() {},
  error() {},
};

/** A snapshot of {@link CounterMetrics}. */
export interface MetricsSnapshot {
  activeConnections: number;
  connectionsOpened: number;
  connectionsClosed: number;
  messagesReceived: number;
  bytesReceived: number;
  messagesSent: number;
  bytesSent: number;
  invocations: number;
  invocationsFailed: number;
  /** Error counts by catalogue code. */
  errors: Record<string, number>;
}

/**
 * Plain counters over all hubs, cheap enough for the hot path. Read them with {@link snapshot}.
 *
 * @example
 * ```ts
 * const metrics = new CounterMetrics();
 * const server = new HubServer({ metrics });
 * app.get('/metrics', (_req, res) => res.json(metrics.snapshot()));
 * ```
 */
export class CounterMetrics implements HubMetrics {
  private opened = 0;
  private closed = 0;
  private received = 0;
  private receivedBytes = 0;
  private sent = 0;
  private sentBytes = 0;
  private invocations = 0;
  private failed = 0;
  private readonly errors = new Map<string, number>();

  connectionOpened(): void {
    this.opened++;
  }
  connectionClosed(): void {
    this.closed++;
  }
  messagesReceived(_hub: string, messages: number, bytes: number): void {
    this.received += messages;
    this.receivedBytes += bytes;
  }
  messageSent(_hub: string, bytes: number): void {
    this.sent++;
    this.sentBytes += bytes;
  }
  invocationCompleted(_hub: string, _method: string, ok: boolean): void {
    this.invocations++;
    if (!ok) this.failed++;
  }
  error(_hub: string, code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** The counters now. */
  snapshot(): MetricsSnapshot {
    return {
      activeConnections: this.opened - this.closed,
      connectionsOpened: this.opened,
      connectionsClosed: this.closed,
      messagesReceived: this.received,
      bytesReceived: this.receivedBytes,
      messagesSent: this.sent,
      bytesSent: this.sentBytes,
      invocations: this.invocations,
      invocationsFailed: this.failed,
      errors: Object.fromEntries(this.errors),
    };
  }
}
