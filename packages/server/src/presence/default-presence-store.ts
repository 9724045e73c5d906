import { SwitchboardError } from '../errors.js';
import { systemTimeProvider, type TimeProvider, type TimerHandle } from '../time-provider.js';
import { PresenceListeners } from './presence-listeners.js';
import type {
  NewPresenceConnection,
  PresenceConnection,
  PresenceEvent,
  PresenceListener,
  PresenceStore,
} from './presence-store.js';

/** Timing and hooks of an in-memory presence backend. */
export interface InMemoryPresenceOptions {
  /** How long a user with no connection left stays online before `userOffline`. Default 5 000 ms. */
  graceMs?: number;
  /** How long a node that stopped heartbeating keeps its connections. Default 15 000 ms. */
  leaseMs?: number;
  /** How often nodes renew their lease and the backend looks for expired ones. Default leaseMs / 3. */
  heartbeatIntervalMs?: number;
  /** The clock and timers for grace and lease. Default: the real ones. */
  time?: TimeProvider;
  /** Epoch milliseconds for event times. Default `Date.now`. */
  wallClock?: () => number;
  /** Receives what a listener throws; default writes a warning to stderr. */
  onError?: (error: unknown, event: PresenceEvent) => void;
}

/** Options of a {@link DefaultPresenceStore}. */
export interface DefaultPresenceStoreOptions extends InMemoryPresenceOptions {
  /** This node's id. Default `node-1`. */
  nodeId?: string;
  /**
   * A backend shared with other node handles (tests of several nodes in one process). Its options
   * apply; the timing options given here must then be left out.
   */
  cluster?: InMemoryPresenceCluster;
}

/** Default timing, shared with the server's options. */
export const presenceDefaults = { graceMs: 5_000, leaseMs: 15_000 } as const;

interface ConnectionEntry {
  connection: PresenceConnection;
  readonly groups: Set<string>;
}

interface UserEntry {
  /** Connection ids, in the order they arrived. */
  readonly connections: Set<string>;
  online: boolean;
  /** Set while the user has no connection and the grace period runs. */
  offlineTimer: TimerHandle | undefined;
}

interface NodeEntry {
  readonly hooks: NodeHooks;
  lastHeartbeat: number;
  /** False once the node was crashed (tests) or closed: its lease is no longer renewed. */
  live: boolean;
}

/**
 * A backend of in-memory presence shared by several {@link DefaultPresenceStore} handles, each
 * acting as one node: the way to run a cluster's presence in one process, for tests (the shared
 * suite's dead-node case among them). {@link crash} stands in for a killed process.
 *
 * @example
 * ```ts
 * const cluster = new InMemoryPresenceCluster({ graceMs: 100, leaseMs: 300, time });
 * const a = cluster.join('a');
 * const b = cluster.join('b');
 * cluster.crash('a'); // a stops heartbeating; b sees a's users leave after lease + grace
 * ```
 */
export class InMemoryPresenceCluster {
  constructor(options: InMemoryPresenceOptions = {}) {
    states.set(this, new PresenceState(options));
  }

  /** The grace period, in milliseconds. */
  get graceMs(): number {
    return stateOf(this).graceMs;
  }

  /** The lease time, in milliseconds. */
  get leaseMs(): number {
    return stateOf(this).leaseMs;
  }

  /** Creates the handle of node `nodeId`, which joins the cluster with a fresh lease. */
  join(nodeId: string): DefaultPresenceStore {
    return new DefaultPresenceStore({ nodeId, cluster: this });
  }

  /**
   * Makes a node behave like a killed process, for tests: its lease is no longer renewed and its
   * listeners hear nothing more, but its connections stay until a sweep removes them once the lease
   * has run out.
   */
  crash(nodeId: string): void {
    stateOf(this).crash(nodeId);
  }

  /** Stops every timer (grace periods, sweeps, heartbeats) and forgets everything. */
  dispose(): void {
    stateOf(this).dispose();
  }
}

const states = new WeakMap<InMemoryPresenceCluster, PresenceState>();

function stateOf(cluster: InMemoryPresenceCluster): PresenceState {
  return states.get(cluster)!;
}

/** What the shared state needs from a node handle. */
interface NodeHooks {
  /** Delivers an event to the handle's listeners. */
  deliver(event: PresenceEvent): void;
  /** Stops the handle's heartbeat and listeners. */
  detach(): void;
}

/**
 * The state behind an {@link InMemoryPresenceCluster}: connections, users, groups, node leases,
 * and the grace and sweep timers.
 */
class PresenceState {
  readonly graceMs: number;
  readonly leaseMs: number;
  readonly heartbeatIntervalMs: number;
  readonly time: TimeProvider;
  private readonly wallClock: () => number;
  readonly onError: (error: unknown, event: PresenceEvent) => void;
  private readonly connections = new Map<string, ConnectionEntry>();
  private readonly users = new Map<string, UserEntry>();
  /** group → connection id → user id */
  private readonly groups = new Map<string, Map<string, string>>();
  /** group → user id → how many of the user's connections are in it */
  private readonly groupUserCounts = new Map<string, Map<string, number>>();
  private readonly nodes = new Map<string, NodeEntry>();
  private sweeper: TimerHandle | undefined;

  constructor(options: InMemoryPresenceOptions = {}) {
    this.graceMs = checkMs('graceMs', options.graceMs ?? presenceDefaults.graceMs, 0);
    this.leaseMs = checkMs('leaseMs', options.leaseMs ?? presenceDefaults.leaseMs, 1);
    this.heartbeatIntervalMs = checkMs(
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs ?? Math.max(1, Math.floor(this.leaseMs / 3)),
      1,
    );
    if (this.heartbeatIntervalMs >= this.leaseMs) {
      throw new SwitchboardError(
        'SB_ERR_HUB_CONFIGURATION',
        `Presence heartbeatIntervalMs (${this.heartbeatIntervalMs}) must be shorter than leaseMs (${this.leaseMs}).`,
      );
    }
    this.time = options.time ?? systemTimeProvider;
    this.wallClock = options.wallClock ?? Date.now;
    this.onError = options.onError ?? reportListenerError;
  }

  crash(nodeId: string): void {
    const node = this.nodes.get(nodeId);
    if (!node?.live) return;
    node.live = false;
    node.hooks.detach();
  }

  dispose(): void {
    this.sweeper?.cancel();
    this.sweeper = undefined;
    for (const node of this.nodes.values()) node.hooks.detach();
    for (const user of this.users.values()) user.offlineTimer?.cancel();
    this.users.clear();
    this.connections.clear();
    this.groups.clear();
    this.groupUserCounts.clear();
    this.nodes.clear();
  }

  register(nodeId: string, hooks: NodeHooks): void {
    const existing = this.nodes.get(nodeId);
    if (existing?.live) {
      throw new SwitchboardError(
        'SB_ERR_HUB_CONFIGURATION',
        `A presence node with id '${nodeId}' is already in the cluster.`,
      );
    }
    // A node that comes back under the id of a dead one starts afresh: the dead one's connections go.
    if (existing) this.removeNodeConnections(nodeId);
    this.nodes.set(nodeId, { hooks, lastHeartbeat: this.time.now(), live: true });
    this.sweeper ??= this.time.setInterval(() => this.sweep(), this.heartbeatIntervalMs);
  }

  heartbeat(nodeId: string): void {
    const node = this.nodes.get(nodeId);
    if (node?.live) node.lastHeartbeat = this.time.now();
  }

  /** A node left cleanly: its connections go now, its lease with them. */
  leave(nodeId: string, hooks: NodeHooks): void {
    const node = this.nodes.get(nodeId);
    // A crashed handle closed late must not take a node that rejoined under its id with it.
    if (!node || node.hooks !== hooks) return;
    node.live = false;
    this.removeNodeConnections(nodeId);
    this.nodes.delete(nodeId);
    if (this.nodes.size === 0) {
      this.sweeper?.cancel();
      this.sweeper = undefined;
    }
  }

  add(nodeId: string, input: NewPresenceConnection): void {
    const connection: PresenceConnection = Object.freeze({ ...input, nodeId });
    const existing = this.connections.get(connection.connectionId);
    if (existing && existing.connection.userId === connection.userId) {
      existing.connection = connection;
      return;
    }
    if (existing) this.remove(connection.connectionId, nodeId);
    this.connections.set(connection.connectionId, { connection, groups: new Set() });
    let user = this.users.get(connection.userId);
    if (!user) {
      user = { connections: new Set(), online: false, offlineTimer: undefined };
      this.users.set(connection.userId, user);
    }
    user.connections.add(connection.connectionId);
    user.offlineTimer?.cancel();
    user.offlineTimer = undefined;
    if (!user.online) {
      user.online = true;
      this.emit({ type: 'userOnline', userId: connection.userId, at: this.wallClock() }, nodeId);
    }
  }

  /** @param byNodeId - the node that removed it; undefined for a sweep or a node leaving. */
  remove(connectionId: string, byNodeId?: string): void {
    const entry = this.connections.get(connectionId);
    if (!entry) return;
    this.connections.delete(connectionId);
    const { userId } = entry.connection;
    for (const group of entry.groups) this.leaveGroup(group, connectionId, userId);
    const user = this.users.get(userId)!;
    user.connections.delete(connectionId);
    if (user.connections.size > 0) return;
    const lastSeen = this.wallClock();
    const goOffline = () => {
      user.offlineTimer = undefined;
      if (user.connections.size > 0 || !user.online) return;
      user.online = false;
      this.users.delete(userId);
      this.emit({ type: 'userOffline', userId, at: lastSeen }, byNodeId);
    };
    user.offlineTimer?.cancel();
    if (this.graceMs === 0) goOffline();
    else user.offlineTimer = this.time.setTimeout(goOffline, this.graceMs);
  }

  addToGroup(connectionId: string, group: string): void {
    const entry = this.connections.get(connectionId);
    if (!entry || entry.groups.has(group)) return;
    entry.groups.add(group);
    const userId = entry.connection.userId;
    mapOf(this.groups, group).set(connectionId, userId);
    const counts = mapOf(this.groupUserCounts, group);
    counts.set(userId, (counts.get(userId) ?? 0) + 1);
  }

  removeFromGroup(connectionId: string, group: string): void {
    const entry = this.connections.get(connectionId);
    if (!entry || !entry.groups.delete(group)) return;
    this.leaveGroup(group, connectionId, entry.connection.userId);
  }

  isOnline(userId: string): boolean {
    return this.users.get(userId)?.online === true;
  }

  onlineUsers(): string[] {
    return [...this.users].filter(([, user]) => user.online).map(([id]) => id);
  }

  userConnections(userId: string): PresenceConnection[] {
    const user = this.users.get(userId);
    if (!user) return [];
    return [...user.connections].map((id) => this.connections.get(id)!.connection);
  }

  groupConnectionCount(group: string): number {
    return this.groups.get(group)?.size ?? 0;
  }

  groupConnections(group: string): PresenceConnection[] {
    return [...(this.groups.get(group)?.keys() ?? [])].map((id) => this.connections.get(id)!.connection);
  }

  groupUsers(group: string): string[] {
    return [...(this.groupUserCounts.get(group)?.keys() ?? [])];
  }

  groupUserCount(group: string): number {
    return this.groupUserCounts.get(group)?.size ?? 0;
  }

  // ---- internals -------------------------------------------------------------------------------

  private leaveGroup(group: string, connectionId: string, userId: string): void {
    const members = this.groups.get(group);
    members?.delete(connectionId);
    if (members?.size === 0) this.groups.delete(group);
    const counts = this.groupUserCounts.get(group);
    if (!counts) return;
    const left = (counts.get(userId) ?? 1) - 1;
    if (left > 0) counts.set(userId, left);
    else counts.delete(userId);
    if (counts.size === 0) this.groupUserCounts.delete(group);
  }

  /**
   * Removes the connections of nodes whose lease ran out. Only nodes that stopped heartbeating
   * qualify: every live handle is in this process, so a stalled event loop (a sweep that runs late)
   * never takes a healthy node for a dead one.
   */
  private sweep(): void {
    const now = this.time.now();
    for (const [nodeId, node] of [...this.nodes]) {
      if (node.live || now - node.lastHeartbeat < this.leaseMs) continue;
      this.nodes.delete(nodeId);
      this.removeNodeConnections(nodeId);
    }
    if (this.nodes.size === 0) {
      this.sweeper?.cancel();
      this.sweeper = undefined;
    }
  }

  private removeNodeConnections(nodeId: string): void {
    for (const [id, entry] of [...this.connections]) {
      if (entry.connection.nodeId === nodeId) this.remove(id);
    }
  }

  /**
   * Delivers an event to every live node. Its origin is `preferred` while that node lives, else the
   * first live node: one node per event, so that cluster-wide side effects run once.
   */
  private emit(event: Omit<PresenceEvent, 'originNodeId'>, preferred: string | undefined): void {
    let origin = preferred !== undefined && this.nodes.get(preferred)?.live ? preferred : undefined;
    origin ??= [...this.nodes].find(([, node]) => node.live)?.[0];
    if (origin === undefined) return; // nobody is listening
    const frozen: PresenceEvent = Object.freeze({ ...event, originNodeId: origin });
    for (const node of [...this.nodes.values()]) {
      if (!node.live) continue;
      node.hooks.deliver(frozen);
    }
  }
}

/**
 * The in-memory {@link PresenceStore}: exact and immediate within one process. Alone it is the
 * presence of a single-node server; several handles can share one {@link InMemoryPresenceCluster}
 * to act as the nodes of a cluster in tests.
 *
 * @example
 * ```ts
 * const presence = new DefaultPresenceStore({ graceMs: 3_000 });
 * presence.subscribe((e) => console.log(e.type, e.userId));
 * await presence.addConnection({ connectionId, userId: 'ada', transport: 'WebSockets',
 *   connectedAt: Date.now(), device: parseUserAgent(request.headers['user-agent']) });
 * ```
 */
export class DefaultPresenceStore implements PresenceStore {
  readonly nodeId: string;
  private readonly state: PresenceState;
  private readonly ownsState: boolean;
  private readonly listeners = new PresenceListeners();
  private heartbeat: TimerHandle | undefined;
  private closed = false;
  private readonly hooks: NodeHooks = { deliver: (e) => this.deliver(e), detach: () => this.detach() };

  constructor(options: DefaultPresenceStoreOptions = {}) {
    this.nodeId = options.nodeId ?? 'node-1';
    const { cluster, nodeId: _, ...timing } = options;
    if (cluster && Object.values(timing).some((value) => value !== undefined)) {
      throw new SwitchboardError(
        'SB_ERR_HUB_CONFIGURATION',
        'A presence store that joins a cluster takes its timing from the cluster.',
      );
    }
    this.state = cluster ? stateOf(cluster) : new PresenceState(timing);
    this.ownsState = !cluster;
    this.state.register(this.nodeId, this.hooks);
    this.heartbeat = this.state.time.setInterval(
      () => this.state.heartbeat(this.nodeId),
      this.state.heartbeatIntervalMs,
    );
  }

  async addConnection(connection: NewPresenceConnection): Promise<void> {
    this.assertOpen();
    this.state.add(this.nodeId, connection);
  }

  async removeConnection(connectionId: string): Promise<void> {
    if (!this.closed) this.state.remove(connectionId, this.nodeId);
  }

  async addToGroup(connectionId: string, group: string): Promise<void> {
    this.assertOpen();
    this.state.addToGroup(connectionId, group);
  }

  async removeFromGroup(connectionId: string, group: string): Promise<void> {
    if (!this.closed) this.state.removeFromGroup(connectionId, group);
  }

  async isOnline(userId: string): Promise<boolean> {
    this.assertOpen();
    return this.state.isOnline(userId);
  }

  async onlineUsers(): Promise<string[]> {
    this.assertOpen();
    return this.state.onlineUsers();
  }

  async userConnections(userId: string): Promise<PresenceConnection[]> {
    this.assertOpen();
    return this.state.userConnections(userId);
  }

  async groupConnectionCount(group: string): Promise<number> {
    this.assertOpen();
    return this.state.groupConnectionCount(group);
  }

  async groupConnections(group: string): Promise<PresenceConnection[]> {
    this.assertOpen();
    return this.state.groupConnections(group);
  }

  async groupUsers(group: string): Promise<string[]> {
    this.assertOpen();
    return this.state.groupUsers(group);
  }

  async groupUserCount(group: string): Promise<number> {
    this.assertOpen();
    return this.state.groupUserCount(group);
  }

  subscribe(listener: PresenceListener): () => void {
    this.assertOpen();
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    this.state.leave(this.nodeId, this.hooks);
    if (this.ownsState) this.state.dispose();
  }

  private deliver(event: PresenceEvent): void {
    this.listeners.deliver(event, (error, e) => this.state.onError(error, e));
  }

  /** Stops the heartbeat and the listeners (a clean close, or a simulated crash). */
  private detach(): void {
    this.heartbeat?.cancel();
    this.heartbeat = undefined;
    this.listeners.clear();
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new SwitchboardError(
        'SB_ERR_PRESENCE_CLOSED',
        `The presence store of node '${this.nodeId}' is closed.`,
      );
    }
  }
}

function checkMs(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new SwitchboardError(
      'SB_ERR_HUB_CONFIGURATION',
      `Presence ${name} must be a finite number of milliseconds, at least ${min}; got ${value}.`,
    );
  }
  return value;
}

function mapOf<K, V>(index: Map<string, Map<K, V>>, key: string): Map<K, V> {
  let map = index.get(key);
  if (!map) {
    map = new Map();
    index.set(key, map);
  }
  return map;
}

function reportListenerError(error: unknown, event: PresenceEvent): void {
  process.emitWarning(
    `A presence listener threw on ${event.type} of '${event.userId}': ${error instanceof Error ? error.message : String(error)}`,
    { code: 'SB_PRESENCE_LISTENER_FAILED' },
  );
}
