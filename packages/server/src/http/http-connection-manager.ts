import { randomFillSync } from 'node:crypto';
import type { Principal } from '../auth/authentication.js';
import type { ConnectionTransport, TransportReceiver } from '../connection/connection-transport.js';
import type { HeartbeatClock } from '../connection/hub-connection-context.js';
import type { TransportType } from '../options.js';
import type { TimeProvider, TimerHandle } from '../time-provider.js';
import { ConnectionLimits, type ConnectionOwner } from './connection-limits.js';
import type { LongPollingTransport } from './transports/long-polling-transport.js';
import type { ServerSentEventsTransport } from './transports/server-sent-events-transport.js';

/**
 * The time provider's now in whole milliseconds. Every connection keeps a few times read from the
 * heartbeat clock (its start, last read, last write, when it went inactive): whole numbers stay
 * small integers in the object, where fractional ones would each be a boxed number of their own
 * (16 bytes per field and connection).
 */
function wholeMs(time: TimeProvider): number {
  return Math.floor(time.now());
}

/**
 * What runs over a connection's transport once it started: a hub connection (handshake, hub
 * protocol) or a raw connection (`mapConnection`). The HTTP layer drives it through this.
 */
export interface ConnectionApplication {
  /** One heartbeat (handshake timeout, keep-alive, client and send timeouts). */
  tick(now: number): void;
  /** Server shutdown: close, telling the client it may reconnect; resolves once it has ended. */
  shutdown(): Promise<void>;
  /** The disconnect timeout disposed the connection: end without telling anyone. */
  abandon(): void;
  /**
   * Whether a new WebSocket may take over the connection (stateful reconnect,
   * docs/protocol.md#stateful-reconnect).
   */
  readonly resumable?: boolean;
  /** Carries on over a new WebSocket; returns its receiver, or undefined when it cannot. */
  resume?(transport: ConnectionTransport, user: Principal | undefined): TransportReceiver | undefined;
}

/**
 * A connection as the HTTP layer tracks it, from negotiate until it is disposed
 * (docs/protocol.md#connection-states).
 */
export class HttpConnection {
  /**
   * Inactive while no transport request holds it (negotiated and unused, or long polling between
   * polls); active while one does; disposed at the end.
   */
  status: 'inactive' | 'active' | 'disposed' = 'inactive';
  /** Fixed by the first transport request (docs/protocol.md#transport-fixed). */
  transportType: TransportType | undefined;
  /** What runs over the transport, once one started. */
  application: ConnectionApplication | undefined;
  /** The Server-Sent Events or long-polling transport, which POST and DELETE requests reach. */
  httpTransport: ServerSentEventsTransport | LongPollingTransport | undefined;
  /** Whether a transport request claimed it (it no longer counts as pending). */
  claimed = false;
  /** The user of the request that started the transport. */
  user: Principal | undefined;
  /** Who the connection counts against for the per-user and per-IP caps, when they are on. */
  owner: ConnectionOwner | undefined;
  /** Negotiate enabled stateful reconnect (the client asked and the hub allows it, 18.1). */
  useStatefulReconnect = false;

  constructor(
    /** The public id. */
    readonly connectionId: string,
    /** The secret that transport requests carry as `id` (equal to the id for negotiate version 0). */
    readonly connectionToken: string,
    /** The endpoint path (routing key) the connection was negotiated for. */
    readonly hubKey: string,
    /** When it became inactive, for the disconnect timeout. */
    public inactiveSince: number,
  ) {}
}

const ID_BYTES = 16;
// CSPRNG bytes for the next 256 ids, drawn in one call (as Node's randomUUID caches its entropy):
// one OpenSSL call and no Buffer per id, where each negotiate needs two. Each byte is used once.
const idPool = Buffer.alloc(ID_BYTES * 256);
let idPoolOffset = idPool.length;

/**
 * A new connection id or token: 16 CSPRNG bytes, base64url, 22 characters (docs/protocol.md#connection-ids).
 */
export function newConnectionId(): string {
  if (idPoolOffset === idPool.length) {
    randomFillSync(idPool);
    idPoolOffset = 0;
  }
  const start = idPoolOffset;
  idPoolOffset = start + ID_BYTES;
  return idPool.toString('base64url', start, start + ID_BYTES);
}

/**
 * The table of connections by token, and the one heartbeat (1 s by default) that drives every
 * timeout: it disposes connections left inactive longer than the disconnect timeout (3.4: a
 * negotiated connection nobody uses, a long-polling client that stopped polling) and ticks each
 * running connection for its handshake timeout, keep-alive, client timeout and send timeout. One
 * timer for the whole server, none per connection.
 */
export class HttpConnectionManager {
  private readonly connections = new Map<string, HttpConnection>();
  private timer: TimerHandle | undefined;
  private pending = 0;
  /** The coarse clock every connection reads, refreshed each tick. */
  readonly clock: HeartbeatClock;

  constructor(
    private readonly time: TimeProvider,
    private readonly heartbeatIntervalMs: number,
    private readonly disconnectTimeoutMs: number,
    /** The per-user and per-IP caps, counted from creation to disposal. */
    readonly limits: ConnectionLimits = new ConnectionLimits({
      maxConnectionsPerUser: undefined,
      maxConnectionsPerIp: undefined,
    }),
  ) {
    this.clock = { now: wholeMs(time) };
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

  /** How many connections were negotiated and not (yet) taken by a transport request. */
  get pendingCount(): number {
    return this.pending;
  }

  /** Every connection. */
  values(): IterableIterator<HttpConnection> {
    return this.connections.values();
  }

  /**
   * A new inactive connection; `negotiateVersion` 0 uses the id as the token. `mint` turns the
   * random token into one that names this node (forwarding, docs/scale-out.md#no-sticky-sessions).
   */
  create(
    hubKey: string,
    negotiateVersion: number,
    owner?: ConnectionOwner,
    mint?: (random: string) => string,
  ): HttpConnection {
    const id = newConnectionId();
    const random = negotiateVersion > 0 ? newConnectionId() : id;
    const token = negotiateVersion > 0 && mint ? mint(random) : random;
    this.clock.now = wholeMs(this.time);
    const connection = new HttpConnection(id, token, hubKey, this.clock.now);
    // The owner's place was taken by `limits.reserve` before: disposal gives it back.
    if (owner && this.limits.enabled) connection.owner = owner;
    this.connections.set(token, connection);
    this.pending++;
    return connection;
  }

  /** The connection with this token, unless disposed. */
  get(token: string): HttpConnection | undefined {
    return this.connections.get(token);
  }

  /** A transport request takes the connection: its transport is fixed and it is active. */
  claim(connection: HttpConnection, transportType: TransportType): void {
    connection.transportType = transportType;
    connection.status = 'active';
    if (!connection.claimed && this.connections.has(connection.connectionToken)) this.pending--;
    connection.claimed = true;
  }

  /** Gives back a connection whose transport never started (a refused upgrade). */
  release(connection: HttpConnection): void {
    if (connection.status === 'disposed') return;
    connection.transportType = undefined;
    connection.status = 'inactive';
    connection.inactiveSince = wholeMs(this.time);
    if (connection.claimed) this.pending++;
    connection.claimed = false;
  }

  /** Marks a connection active (a poll is waiting) or inactive (between polls). */
  setActive(connection: HttpConnection, active: boolean): void {
    if (connection.status === 'disposed') return;
    if (active) {
      connection.status = 'active';
    } else if (connection.status !== 'inactive') {
      connection.status = 'inactive';
      connection.inactiveSince = wholeMs(this.time);
    }
  }

  /** Marks a connection disposed and forgets it. Idempotent. */
  dispose(connection: HttpConnection): void {
    connection.status = 'disposed';
    if (this.connections.get(connection.connectionToken) !== connection) return;
    this.connections.delete(connection.connectionToken);
    if (connection.owner) this.limits.remove(connection.owner);
    if (!connection.claimed) this.pending--;
  }

  /** One heartbeat; public so that tests with a manual time provider can drive it. */
  tick(): void {
    const now = wholeMs(this.time);
    this.clock.now = now;
    for (const connection of this.connections.values()) {
      if (connection.status === 'inactive' && now - connection.inactiveSince >= this.disconnectTimeoutMs) {
        this.dispose(connection);
        connection.application?.abandon();
      } else {
        connection.application?.tick(now);
      }
    }
  }
}
