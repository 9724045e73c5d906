import { randomBytes } from 'node:crypto';
import type { HeartbeatClock, HubConnectionContext } from '../connection/hub-connection-context.js';
import type { TransportType } from '../options.js';
import type { TimeProvider, TimerHandle } from '../time-provider.js';

/** A connection as the HTTP layer tracks it, from negotiate until it is disposed (3.3). */
export class HttpConnection {
  /** Inactive until a transport request takes it; disposed at the end. */
  status: 'inactive' | 'active' | 'disposed' = 'inactive';
  /** Fixed by the first transport request (3.5). */
  transportType: TransportType | undefined;
  /** The hub connection once a transport runs it. */
  hubConnection: HubConnectionContext | undefined;

  constructor(
    /** The public id. */
    readonly connectionId: string,
    /** The secret that transport requests carry as `id` (equal to the id for negotiate version 0). */
    readonly connectionToken: string,
    /** The hub path the connection was negotiated for. */
    readonly hubKey: string,
    /** When it became inactive, for the disconnect timeout. */
    public inactiveSince: number,
  ) {}
}

/** A new connection id or token: 16 CSPRNG bytes, base64url, 22 characters (3.1). */
export function newConnectionId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * The table of connections by token, and the one heartbeat (1 s by default) that drives every
 * timeout: it disposes connections left inactive longer than the disconnect timeout (3.4) and
 * ticks each hub connection for its handshake timeout, keep-alive, client timeout and send
 * timeout. One timer for the whole server, none per connection.
 */
export class HttpConnectionManager {
  private readonly connections = new Map<string, HttpConnection>();
  private timer: TimerHandle | undefined;
  /** The coarse clock every connection reads, refreshed each tick. */
  readonly clock: HeartbeatClock;

  constructor(
    private readonly time: TimeProvider,
    private readonly heartbeatIntervalMs: number,
    private readonly disconnectTimeoutMs: number,
  ) {
    this.clock = { now: time.now() };
  }

  /** Starts the heartbeat. */
  start(): void {
    this.timer ??= this.time.setInterval(() => this.tick(), this.heartbeatIntervalMs);
  }

  /** Stops the heartbeat. */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** How many connections exist, in any state but disposed. */
  get size(): number {
    return this.connections.size;
  }

  /** Every connection. */
  values(): IterableIterator<HttpConnection> {
    return this.connections.values();
  }

  /** A new inactive connection; `negotiateVersion` 0 uses the id as the token. */
  create(hubKey: string, negotiateVersion: number): HttpConnection {
    const id = newConnectionId();
    const token = negotiateVersion > 0 ? newConnectionId() : id;
    this.clock.now = this.time.now();
    const connection = new HttpConnection(id, token, hubKey, this.clock.now);
    this.connections.set(token, connection);
    return connection;
  }

  /** The connection with this token, unless disposed. */
  get(token: string): HttpConnection | undefined {
    return this.connections.get(token);
  }

  /** Marks a connection disposed and forgets it. */
  dispose(connection: HttpConnection): void {
    connection.status = 'disposed';
    this.connections.delete(connection.connectionToken);
  }

  /** One heartbeat; public so that tests with a manual time provider can drive it. */
  tick(): void {
    const now = this.time.now();
    this.clock.now = now;
    for (const connection of this.connections.values()) {
      if (connection.status === 'inactive') {
        if (now - connection.inactiveSince >= this.disconnectTimeoutMs) {
          this.dispose(connection);
          connection.hubConnection?.close(undefined, undefined);
        }
      } else if (connection.hubConnection) {
        connection.hubConnection.tick(now);
      }
    }
  }
}
