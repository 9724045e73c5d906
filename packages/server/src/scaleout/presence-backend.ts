/**
 * The few atomic operations a backend offers the scale-out presence store
 * (`ScaleoutPresenceStore`), as centrifuge's PresenceManager: the core keeps the node's own
 * connections, the heartbeat and grace timers, exactly-once in-order event delivery and the
 * re-assert after a lost lease; the backend decides each transition atomically (a Lua script, an
 * SQL function, a key-value revision) and keeps the event log.
 *
 * Events are numbered by the backend: an epoch (a string; a later epoch compares greater by
 * length, then lexically, and starts after the backend lost its state) and, within it, 1, 2, 3 …
 * with no gap. The core delivers each number once, in order, reading a gap from the log.
 * @module
 */
import type { PresenceConnection } from '../presence/presence-store.js';

/** An event as the backend numbers, logs and publishes it. */
export interface PresenceLogEvent {
  /** The epoch of the numbering. */
  readonly e: string;
  /** The number within the epoch: 1, 2, 3 … with no gap. */
  readonly s: number;
  /** The transition. */
  readonly t: 'userOnline' | 'userOffline';
  /** The user. */
  readonly u: string;
  /** When it happened, in milliseconds since the Unix epoch. */
  readonly a: number;
  /** The node that decided it. */
  readonly o: string;
}

/** Where the event log stands, as an operation found it. */
export interface LogHead {
  /** The epoch of the numbering. */
  readonly epoch: string;
  /** The last number of the epoch (0 when none yet). */
  readonly head: number;
}

/** The outcome of an operation that may decide transitions. */
export interface TransitionResult {
  /** The events it decided (already logged and published), in any order. */
  readonly events: readonly PresenceLogEvent[];
  /**
   * Milliseconds until the earliest offline of the cluster falls due (after its grace), or -1
   * when none waits: the core runs a {@link PresenceBackend.heartbeat} then, if that comes before
   * the next regular one.
   */
  readonly dueInMs: number;
}

/** The outcome of a lease operation. */
export interface LeaseResult extends TransitionResult, LogHead {
  /**
   * Whether the node's lease held (a heartbeat, an add). When false (the backend lost its state,
   * or the node stalled past its lease and was swept), the core re-asserts with
   * {@link PresenceBackend.assert}.
   */
  readonly leaseHeld: boolean;
}

/** What the core re-asserts after a lost lease (and asserts when it joins). */
export interface PresenceAssertion {
  /**
   * The epoch of the node's last lease (`''` when it joins): when the backend's epoch differs (it
   * lost its state), the node's users it knew online are recorded online silently.
   */
  readonly leaseEpoch: string;
  /** This node's connections, oldest first, each with its groups. */
  readonly connections: readonly {
    readonly connection: PresenceConnection;
    readonly groups: readonly string[];
  }[];
  /**
   * The users this node believes online (from the events it delivered): after the backend lost
   * its state, they are recorded online again without a second `userOnline`.
   */
  readonly onlineUsers: readonly string[];
}

/** A change another node made to one of this node's connections. */
export type RemotePresenceChange =
  | { readonly kind: 'remove'; readonly connectionId: string }
  | {
      readonly kind: 'addToGroup' | 'removeFromGroup';
      readonly connectionId: string;
      readonly group: string;
    };

/** What a presence backend hands the core. */
export interface PresenceBackendReceiver {
  /** Events published by any node (possibly out of order, twice, or with gaps: the core sorts it out). */
  events(events: readonly PresenceLogEvent[]): void;
  /** A change another node made to one of this node's connections (its local copy follows). */
  remoteChange(change: RemotePresenceChange): void;
  /** The backend's connection came back: the core runs a heartbeat, which reads what it missed. */
  reconnected(): void;
  /** A fault with no caller to reject (the message names the backend). */
  error(error: unknown): void;
}

/** What a backend needs to build a node's presence backend. */
export interface PresenceBackendContext {
  /** This node's id. */
  readonly nodeId: string;
  /** A random token of this store instance: the lease is held under it. */
  readonly token: string;
  /** How long a user with no connection stays online. */
  readonly graceMs: number;
  /** How long a node that stopped heartbeating keeps its connections. */
  readonly leaseMs: number;
  /** Where the backend hands what arrives. */
  readonly receiver: PresenceBackendReceiver;
}

/** Builds a node's presence backend. */
export type PresenceBackendFactory = (context: PresenceBackendContext) => PresenceBackend;

/**
 * The atomic operations of presence on one backend. Every operation is atomic on the backend:
 * two nodes never both decide the same transition. Rejections are the backend's faults (the core
 * rejects the caller's promise, or reports and retries on the next heartbeat).
 */
export interface PresenceBackend {
  /** The backend's name (`redis`, `postgres`, `nats`, `loopback`). */
  readonly backend: string;
  /**
   * Calls the backend retried by itself (a dropped connection, a deadlock), for the store's
   * counters. A backend that never retries leaves it out.
   */
  readonly retries?: number;
  /**
   * Connects and subscribes to the cluster's events and this node's changes (and prepares what it
   * needs, a schema). Resolves once events published from now on reach
   * {@link PresenceBackendReceiver.events}. When it rejects (the backend unreachable at start), the
   * core calls it again on the next heartbeat, until it resolves; it is called no more after that.
   */
  start(): Promise<void>;

  // ---- lease ---------------------------------------------------------------------------------
  /**
   * Takes (or takes again) the node's lease for `leaseMs` and records its connections, groups and
   * online users as given, deciding no transition for them; decides what falls due meanwhile.
   * Returns the log head so that the core knows where delivery starts.
   */
  assert(state: PresenceAssertion): Promise<LeaseResult>;
  /**
   * Renews the lease (when still held), sweeps nodes whose lease ran out (their connections
   * removed as if each was removed then: their users' offline waits out the grace), and decides
   * the offlines that fell due. Returns the log head.
   */
  heartbeat(): Promise<LeaseResult>;

  // ---- transitions ---------------------------------------------------------------------------
  /**
   * Records a connection of this node (again: an update, no event); decides `userOnline` when it
   * is the user's first anywhere and the user is not within a grace (which it cancels).
   */
  add(connection: PresenceConnection): Promise<Omit<LeaseResult, keyof LogHead>>;
  /**
   * Forgets a connection on any node, with its groups; the user's last connection starts the
   * grace (the offline falls due after `graceMs`). Tells the owning node when it is another.
   */
  remove(connectionId: string): Promise<TransitionResult>;
  /** Adds a connection (on any node) to a group, or removes it; no effect for an unknown one. */
  group(connectionId: string, group: string, member: boolean): Promise<void>;
  /**
   * Leaves the cluster: removes this node's connections (their users' offline waits out the
   * grace, unless connected elsewhere) and gives up the lease.
   */
  leave(): Promise<TransitionResult>;

  // ---- event log -----------------------------------------------------------------------------
  /**
   * The logged events of `epoch` numbered after `after` up to `upTo`, in order (some may have
   * left the log: the core reports the gap).
   */
  readEvents(epoch: string, after: number, upTo: number): Promise<readonly PresenceLogEvent[]>;

  // ---- queries (the PresenceStore queries, answered for the whole cluster) --------------------
  /** Whether the user is online (connected, or within the grace). */
  isOnline(userId: string): Promise<boolean>;
  /** Every online user. */
  onlineUsers(): Promise<string[]>;
  /** The user's live connections on every node, oldest first. */
  userConnections(userId: string): Promise<PresenceConnection[]>;
  /** How many connections are in a group. */
  groupConnectionCount(group: string): Promise<number>;
  /** The connections in a group. */
  groupConnections(group: string): Promise<PresenceConnection[]>;
  /** The users with a connection in a group. */
  groupUsers(group: string): Promise<string[]>;
  /** How many users have a connection in a group. */
  groupUserCount(group: string): Promise<number>;

  /** Closes the backend's connections (after {@link leave}, or without it for a kill). */
  close(): Promise<void>;
}
