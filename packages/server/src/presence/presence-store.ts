/**
 * The PresenceStore contract: which users are online, on which nodes and devices, who is in which
 * group, and the `userOnline` / `userOffline` events. The in-memory {@link DefaultPresenceStore}
 * serves one process (one node, or several node handles sharing memory in tests); the Redis and
 * PostgreSQL stores implement the same contract across processes, and all of them run the shared
 * conformance suite (`presenceStoreSuite` in packages/testkit).
 * @module
 */

/** What kind of device a connection comes from, as far as its user agent tells. */
export type DeviceType = 'mobile' | 'tablet' | 'desktop' | 'bot' | 'unknown';

/** A hint about a connection's device, read from its user agent (see `parseUserAgent`). */
export interface DeviceHint {
  /** The kind of device. A hint, not a fact: user agents lie and change. */
  readonly type: DeviceType;
  /**
   * The browser or client program as the user agent names it (`Chrome`, `Firefox`, `Safari`,
   * `Edge`, `SignalR NodeJS`, `Googlebot` …), or undefined when nothing was recognised.
   */
  readonly browser: string | undefined;
}

/** One live connection of a user, as the presence store records it. */
export interface PresenceConnection {
  /** The public connection id (never the connection token). */
  readonly connectionId: string;
  /** The user the connection belongs to. Anonymous connections are not tracked. */
  readonly userId: string;
  /** The node that holds the connection (the store that added it). */
  readonly nodeId: string;
  /** The hub the connection belongs to, when the store serves several hubs. */
  readonly hubPath?: string;
  /** The transport in use: `WebSockets`, `ServerSentEvents` or `LongPolling`. */
  readonly transport: string;
  /** When the connection was established, in milliseconds since the Unix epoch. */
  readonly connectedAt: number;
  /** The device hint of the connection's user agent. */
  readonly device: DeviceHint;
}

/** A connection to add: the store stamps its own node id. */
export type NewPresenceConnection = Omit<PresenceConnection, 'nodeId'>;

/** A user's transition between offline and online. */
export interface PresenceEvent {
  /** `userOnline`: the user's first connection anywhere arrived; `userOffline`: the last one left. */
  readonly type: 'userOnline' | 'userOffline';
  /** The user. */
  readonly userId: string;
  /**
   * When the transition happened, in milliseconds since the Unix epoch: for `userOnline` when the
   * first connection was added; for `userOffline` when the last connection was removed (or swept),
   * that is before the grace period, so it reads as "last seen".
   */
  readonly at: number;
  /**
   * The node that decided the transition: exactly one live node per event (the one that added or
   * removed the connection, or, when that node is gone, the one that swept or timed it out). Every
   * node hears every event; run cluster-wide side effects (a broadcast to clients through the
   * lifetime manager, a webhook) only where `originNodeId` is the local node, or they happen once
   * per node.
   */
  readonly originNodeId: string;
}

/** Receives presence events. */
export type PresenceListener = (event: PresenceEvent) => void;

/**
 * One node's handle on the presence of a cluster. Every node of a cluster creates one, with its own
 * node id, over the same backend; queries answer for the whole cluster.
 *
 * Contract, for every implementation:
 * - Consistency: on the node that made a change, every query made after the change's promise
 *   resolved sees it (read your writes). Other nodes see it within one heartbeat interval of the
 *   store. Counts are exact once the cluster is quiet; while connections come and go, a count may
 *   lag by what happened within that interval.
 * - Online: a user is online from their first connection on any node until the `userOffline`
 *   event. When the last connection of a user goes, the user stays online for the grace period
 *   (seconds by default, configurable); a connection of that user arriving on any node within it
 *   cancels the offline. So a page reload, a second tab closing, or a reconnect to another node emits
 *   nothing. {@link isOnline} and {@link onlineUsers} follow the events (a user within the grace is
 *   online); {@link userConnections} and the group queries show live connections only.
 * - Events: each transition is announced exactly once to every subscriber on every node, and a
 *   user's events alternate (online, offline, online …). A subscriber receives the transitions that
 *   happen after it subscribed. A throwing listener is reported (the implementation's `onError`) and
 *   never stops the others. On the node that made a change, its events are delivered before the
 *   change's promise resolves; other nodes get them within one heartbeat interval.
 * - Leases: a node holds a lease that the store renews by itself (a heartbeat). A node that stops
 *   renewing it (the process was killed, the network cut) is swept once by a surviving node after
 *   the lease time: its connections are removed as if each had been removed then, so its users go
 *   offline once, after the grace period, unless they have connections elsewhere. Bound: a dead
 *   node's users are announced offline at most lease + one heartbeat interval + grace after its
 *   last heartbeat; while the lease holds they stay online.
 * - Idempotence: adding a connection id again updates it (no second count, no event); removing an
 *   absent connection, or a group change for a connection that does not exist, resolves without
 *   effect. Group names are case-sensitive and exist while they have members. A store serving
 *   several hubs sees one namespace of group names; hubs scope their names before calling it.
 * - Closing: {@link close} removes this node's connections (its users go offline after the grace,
 *   unless they are connected elsewhere), gives up the lease, and stops this handle's listeners.
 *   After close, removals resolve without effect (shutdown races are harmless); the other methods
 *   reject (`subscribe` throws).
 */
export interface PresenceStore {
  /** This node's id in the cluster. */
  readonly nodeId: string;
  /** Records a connection of this node; announces `userOnline` if it is the user's first anywhere. */
  addConnection(connection: NewPresenceConnection): Promise<void>;
  /** Forgets a connection (on any node) and its groups; the user's last one starts the grace period. */
  removeConnection(connectionId: string): Promise<void>;
  /** Adds a connection (on any node) to a group. */
  addToGroup(connectionId: string, group: string): Promise<void>;
  /** Removes a connection (on any node) from a group. */
  removeFromGroup(connectionId: string, group: string): Promise<void>;
  /** Whether the user is online (connected somewhere, or within the grace period after that). */
  isOnline(userId: string): Promise<boolean>;
  /** Every online user, in no particular order. */
  onlineUsers(): Promise<string[]>;
  /** The user's live connections on every node, oldest first. */
  userConnections(userId: string): Promise<PresenceConnection[]>;
  /** How many connections are in a group. */
  groupConnectionCount(group: string): Promise<number>;
  /** The connections in a group, on every node (authenticated users' connections only). */
  groupConnections(group: string): Promise<PresenceConnection[]>;
  /** The users with at least one connection in a group, in no particular order. */
  groupUsers(group: string): Promise<string[]>;
  /** How many users have at least one connection in a group. */
  groupUserCount(group: string): Promise<number>;
  /**
   * Calls `listener` with every presence event of the cluster from now on. Returns the function
   * that unsubscribes it (calling it twice is harmless).
   */
  subscribe(listener: PresenceListener): () => void;
  /** Leaves the cluster cleanly (see the contract above). Calling it twice is harmless. */
  close(): Promise<void>;
}
