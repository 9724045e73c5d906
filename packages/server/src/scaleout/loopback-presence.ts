/**
 * The in-memory presence backend of the scale-out core: a {@link LoopbackPresenceNetwork} holds
 * the cluster's presence state as a backend would (connections, groups, leases, grace, event log)
 * and decides every transition in one synchronous step, as a Redis script or an SQL function does.
 * Tests run `ScaleoutPresenceStore` on it without services.
 * @module
 */
import type { PresenceConnection } from '../presence/presence-store.js';
import type {
  LeaseResult,
  PresenceAssertion,
  PresenceBackend,
  PresenceBackendContext,
  PresenceBackendFactory,
  PresenceLogEvent,
  RemotePresenceChange,
  TransitionResult,
} from './presence-backend.js';

/** Options of a {@link LoopbackPresenceNetwork}. */
export interface LoopbackPresenceOptions {
  /** How many events the log keeps. Default 1 000. */
  readonly logLength?: number;
  /** The backend's clock (epoch ms). Default `Date.now`. */
  readonly now?: () => number;
  /**
   * Receives the changes made to another node's connections, instead of the started backends of
   * this process (a backend that keeps the state elsewhere, as the NATS one, sends them itself).
   */
  readonly onControl?: (nodeId: string, change: RemotePresenceChange) => void;
}

/**
 * The whole state of a {@link LoopbackPresenceNetwork} as plain JSON: a backend that stores the
 * cluster's presence as one document (the NATS one, in a key-value entry updated by revision)
 * restores a network from it, runs one operation, and writes {@link LoopbackPresenceNetwork.snapshot}
 * back. Group and node indexes are rebuilt from `conns`, whose order is the order of arrival.
 */
export interface LoopbackPresenceSnapshot {
  readonly epoch: string;
  readonly seq: number;
  readonly log: readonly PresenceLogEvent[];
  readonly leases: readonly (readonly [string, { token: string; expiresAt: number }])[];
  readonly nodes: readonly string[];
  readonly conns: readonly (readonly [string, PresenceConnection, readonly string[]])[];
  readonly online: readonly string[];
  readonly pending: readonly (readonly [string, { due: number; at: number; origin: string }])[];
}

interface Conn {
  json: PresenceConnection;
  readonly groups: Set<string>;
}

/** The shared in-memory presence state of one cluster. */
export class LoopbackPresenceNetwork {
  /**
   * While true, every operation of this network's backends rejects as an unreachable backend's
   * would (tests of a backend that is down, at start or later); the state is kept.
   */
  unavailable = false;
  private readonly now: () => number;
  private readonly logLength: number;
  private epoch: string;
  private seq = 0;
  private readonly log: PresenceLogEvent[] = [];
  private readonly leases = new Map<string, { token: string; expiresAt: number }>();
  private readonly nodes = new Set<string>();
  private readonly nodeConns = new Map<string, Set<string>>();
  private readonly conns = new Map<string, Conn>();
  private readonly userConns = new Map<string, string[]>();
  private readonly groups = new Map<string, Set<string>>();
  private readonly groupUsers = new Map<string, Map<string, number>>();
  private readonly online = new Set<string>();
  /** user → when the offline falls due, and `<last seen>` and origin ('' for whoever claims). */
  private readonly pending = new Map<string, { due: number; at: number; origin: string }>();
  private readonly started = new Set<LoopbackPresenceBackend>();
  private readonly onControl: LoopbackPresenceOptions['onControl'];

  constructor(options: LoopbackPresenceOptions = {}) {
    this.now = options.now ?? Date.now;
    this.logLength = options.logLength ?? 1_000;
    this.epoch = epochOf(this.now());
    this.onControl = options.onControl;
  }

  /** The state as plain JSON (see {@link LoopbackPresenceSnapshot}). */
  snapshot(): LoopbackPresenceSnapshot {
    return {
      epoch: this.epoch,
      seq: this.seq,
      log: [...this.log],
      leases: [...this.leases].map(([node, lease]) => [node, { ...lease }] as const),
      nodes: [...this.nodes],
      conns: [...this.conns].map(([cid, conn]) => [cid, conn.json, [...conn.groups]] as const),
      online: [...this.online],
      pending: [...this.pending].map(([user, info]) => [user, { ...info }] as const),
    };
  }

  /** A network holding a {@link snapshot}'s state. */
  static restore(
    snapshot: LoopbackPresenceSnapshot,
    options: LoopbackPresenceOptions = {},
  ): LoopbackPresenceNetwork {
    const network = new LoopbackPresenceNetwork(options);
    network.epoch = snapshot.epoch;
    network.seq = snapshot.seq;
    network.log.push(...snapshot.log);
    for (const [node, lease] of snapshot.leases) network.leases.set(node, { ...lease });
    for (const node of snapshot.nodes) network.nodes.add(node);
    for (const [cid, json, groups] of snapshot.conns) {
      const conn: Conn = { json, groups: new Set() };
      network.conns.set(cid, conn);
      setOf(network.nodeConns, json.nodeId).add(cid);
      const list = network.userConns.get(json.userId) ?? [];
      list.push(cid);
      network.userConns.set(json.userId, list);
      for (const g of groups) network.joinGroup(cid, conn, g);
    }
    for (const user of snapshot.online) network.online.add(user);
    for (const [user, info] of snapshot.pending) network.pending.set(user, { ...info });
    return network;
  }

  /** The backend factory of a node (pass it to a `ScaleoutPresenceStore`). */
  get backend(): PresenceBackendFactory {
    return (context) => new LoopbackPresenceBackend(this, context);
  }

  /** Forgets everything, as a backend restarted without persistence: a new epoch begins. */
  reset(): void {
    this.epoch = epochOf(Math.max(this.now(), Number(this.epoch.slice(0, 13)) + 1));
    this.seq = 0;
    this.log.length = 0;
    for (const map of [this.leases, this.nodeConns, this.conns, this.userConns, this.groups, this.groupUsers])
      map.clear();
    this.nodes.clear();
    this.online.clear();
    this.pending.clear();
  }

  // ---- the operations (each one atomic: synchronous) ------------------------------------------

  /** @internal */
  start(backend: LoopbackPresenceBackend): void {
    this.started.add(backend);
  }

  /** @internal */
  stop(backend: LoopbackPresenceBackend): void {
    this.started.delete(backend);
  }

  /** @internal */
  add(ctx: PresenceBackendContext, connection: PresenceConnection): Omit<LeaseResult, 'epoch' | 'head'> {
    const out: PresenceLogEvent[] = [];
    if (this.leases.get(ctx.nodeId)?.token !== ctx.token || !this.leaseLive(ctx.nodeId))
      return { leaseHeld: false, events: out, dueInMs: this.nextDue() };
    this.addConn(ctx, connection, false, out);
    return { leaseHeld: true, events: out, dueInMs: this.nextDue() };
  }

  /** @internal */
  remove(ctx: PresenceBackendContext, connectionId: string): TransitionResult {
    const out: PresenceLogEvent[] = [];
    const owner = this.drop(ctx, connectionId, ctx.nodeId, out);
    if (owner && owner !== ctx.nodeId) this.control(owner, { kind: 'remove', connectionId });
    return { events: out, dueInMs: this.nextDue() };
  }

  /** @internal */
  group(ctx: PresenceBackendContext, connectionId: string, group: string, member: boolean): void {
    const conn = this.conns.get(connectionId);
    if (!conn) return;
    if (member) this.joinGroup(connectionId, conn, group);
    else if (conn.groups.delete(group)) this.leaveGroup(connectionId, conn.json.userId, group);
    if (conn.json.nodeId !== ctx.nodeId)
      this.control(conn.json.nodeId, {
        kind: member ? 'addToGroup' : 'removeFromGroup',
        connectionId,
        group,
      });
  }

  /** @internal */
  heartbeat(ctx: PresenceBackendContext): LeaseResult {
    const out: PresenceLogEvent[] = [];
    const lease = this.leases.get(ctx.nodeId);
    let held = false;
    if (lease?.token === ctx.token && this.leaseLive(ctx.nodeId)) {
      lease.expiresAt = this.now() + ctx.leaseMs;
      this.nodes.add(ctx.nodeId);
      held = true;
      this.sweep(ctx, out);
      this.fireDue(ctx, out);
    }
    return { leaseHeld: held, epoch: this.epoch, head: this.seq, events: out, dueInMs: this.nextDue() };
  }

  /** @internal */
  assert(ctx: PresenceBackendContext, state: PresenceAssertion): LeaseResult {
    const out: PresenceLogEvent[] = [];
    const now = this.now();
    this.leases.set(ctx.nodeId, { token: ctx.token, expiresAt: now + ctx.leaseMs });
    this.nodes.add(ctx.nodeId);
    const silent = state.leaseEpoch !== this.epoch;
    const keep = new Set(state.connections.map((c) => c.connection.connectionId));
    const known = new Set(state.onlineUsers);
    for (const cid of [...(this.nodeConns.get(ctx.nodeId) ?? [])])
      if (!keep.has(cid)) this.drop(ctx, cid, ctx.nodeId, out);
    for (const { connection, groups } of state.connections) {
      const existed = this.conns.has(connection.connectionId);
      this.addConn(ctx, connection, silent && known.has(connection.userId), out);
      if (!existed) {
        const conn = this.conns.get(connection.connectionId)!;
        for (const g of groups) this.joinGroup(connection.connectionId, conn, g);
      }
    }
    if (silent && state.leaseEpoch !== '') {
      for (const user of state.onlineUsers) {
        if (!this.userConns.has(user) && !this.online.has(user)) {
          this.online.add(user);
          this.pending.set(user, { due: now + ctx.graceMs + ctx.leaseMs, at: now, origin: '' });
        }
      }
    }
    this.sweep(ctx, out);
    this.fireDue(ctx, out);
    return { leaseHeld: true, epoch: this.epoch, head: this.seq, events: out, dueInMs: this.nextDue() };
  }

  /** @internal */
  leave(ctx: PresenceBackendContext): TransitionResult {
    const out: PresenceLogEvent[] = [];
    const holder = this.leases.get(ctx.nodeId);
    if (!holder || holder.token === ctx.token) {
      for (const cid of [...(this.nodeConns.get(ctx.nodeId) ?? [])]) this.drop(ctx, cid, '', out);
      this.nodeConns.delete(ctx.nodeId);
      this.nodes.delete(ctx.nodeId);
      this.leases.delete(ctx.nodeId);
    }
    return { events: out, dueInMs: this.nextDue() };
  }

  /** @internal */
  readEvents(epoch: string, after: number, upTo: number): PresenceLogEvent[] {
    if (epoch !== this.epoch) return [];
    return this.log.filter((e) => e.s > after && e.s <= upTo);
  }

  /** @internal */
  query() {
    const connections = (ids: Iterable<string>) =>
      [...ids].flatMap((id) => {
        const conn = this.conns.get(id);
        return conn ? [conn.json] : [];
      });
    return {
      isOnline: (userId: string) => this.online.has(userId),
      onlineUsers: () => [...this.online],
      userConnections: (userId: string) => connections(this.userConns.get(userId) ?? []),
      groupConnectionCount: (group: string) => this.groups.get(group)?.size ?? 0,
      groupConnections: (group: string) => connections(this.groups.get(group) ?? []),
      groupUsers: (group: string) => [...(this.groupUsers.get(group)?.keys() ?? [])],
      groupUserCount: (group: string) => this.groupUsers.get(group)?.size ?? 0,
    };
  }

  // ---- internals (as the Redis scripts) --------------------------------------------------------

  private leaseLive(nodeId: string): boolean {
    const lease = this.leases.get(nodeId);
    return lease !== undefined && lease.expiresAt > this.now();
  }

  private emit(
    kind: PresenceLogEvent['t'],
    user: string,
    at: number,
    origin: string,
    out: PresenceLogEvent[],
  ): void {
    const event: PresenceLogEvent = { e: this.epoch, s: ++this.seq, t: kind, u: user, a: at, o: origin };
    this.log.push(event);
    if (this.log.length > this.logLength) this.log.shift();
    out.push(event);
    const receivers = [...this.started];
    queueMicrotask(() => {
      for (const backend of receivers) backend.deliver([event]);
    });
  }

  private control(nodeId: string, change: Parameters<LoopbackPresenceBackend['change']>[0]): void {
    if (this.onControl) {
      this.onControl(nodeId, change);
      return;
    }
    const receivers = [...this.started].filter((b) => b.nodeId === nodeId);
    queueMicrotask(() => {
      for (const backend of receivers) backend.change(change);
    });
  }

  private joinGroup(cid: string, conn: Conn, group: string): void {
    if (conn.groups.has(group)) return;
    conn.groups.add(group);
    setOf(this.groups, group).add(cid);
    const users = this.groupUsers.get(group) ?? new Map<string, number>();
    this.groupUsers.set(group, users);
    users.set(conn.json.userId, (users.get(conn.json.userId) ?? 0) + 1);
  }

  private leaveGroup(cid: string, user: string, group: string): void {
    const members = this.groups.get(group);
    members?.delete(cid);
    if (members?.size === 0) this.groups.delete(group);
    const users = this.groupUsers.get(group);
    if (!users) return;
    const left = (users.get(user) ?? 0) - 1;
    if (left <= 0) users.delete(user);
    else users.set(user, left);
    if (users.size === 0) this.groupUsers.delete(group);
  }

  /** Removes a connection; the user's last one starts the grace. Returns the owner node. */
  private drop(
    ctx: PresenceBackendContext,
    cid: string,
    origin: string,
    out: PresenceLogEvent[],
  ): string | undefined {
    const conn = this.conns.get(cid);
    if (!conn) return undefined;
    const { userId: user, nodeId: node } = conn.json;
    for (const g of conn.groups) this.leaveGroup(cid, user, g);
    this.conns.delete(cid);
    this.nodeConns.get(node)?.delete(cid);
    const list = (this.userConns.get(user) ?? []).filter((id) => id !== cid);
    if (list.length > 0) this.userConns.set(user, list);
    else this.userConns.delete(user);
    if (list.length === 0 && this.online.has(user)) {
      const now = this.now();
      if (ctx.graceMs <= 0 && origin !== '') {
        this.online.delete(user);
        this.emit('userOffline', user, now, origin, out);
      } else this.pending.set(user, { due: now + ctx.graceMs, at: now, origin });
    }
    return node;
  }

  private addConn(
    ctx: PresenceBackendContext,
    connection: PresenceConnection,
    silent: boolean,
    out: PresenceLogEvent[],
  ): void {
    const cid = connection.connectionId;
    const old = this.conns.get(cid);
    if (old && old.json.userId !== connection.userId) this.drop(ctx, cid, ctx.nodeId, out);
    const existing = this.conns.get(cid);
    if (existing && existing.json.nodeId !== ctx.nodeId)
      this.nodeConns.get(existing.json.nodeId)?.delete(cid);
    const json = { ...connection, nodeId: ctx.nodeId };
    if (existing) existing.json = json;
    else this.conns.set(cid, { json, groups: new Set() });
    setOf(this.nodeConns, ctx.nodeId).add(cid);
    const list = this.userConns.get(connection.userId) ?? [];
    if (!list.includes(cid)) list.push(cid);
    this.userConns.set(connection.userId, list);
    this.pending.delete(connection.userId);
    if (!this.online.has(connection.userId)) {
      this.online.add(connection.userId);
      if (!silent) this.emit('userOnline', connection.userId, this.now(), ctx.nodeId, out);
    }
  }

  private sweep(ctx: PresenceBackendContext, out: PresenceLogEvent[]): void {
    for (const node of [...this.nodes]) {
      if (this.leaseLive(node)) continue;
      this.nodes.delete(node);
      for (const cid of [...(this.nodeConns.get(node) ?? [])]) this.drop(ctx, cid, '', out);
      this.nodeConns.delete(node);
    }
  }

  private fireDue(ctx: PresenceBackendContext, out: PresenceLogEvent[]): void {
    const now = this.now();
    for (const [user, info] of [...this.pending].sort((a, b) => a[1].due - b[1].due)) {
      if (info.due > now) continue;
      this.pending.delete(user);
      if (this.userConns.has(user) || !this.online.delete(user)) continue;
      const origin = info.origin === '' || !this.leaseLive(info.origin) ? ctx.nodeId : info.origin;
      this.emit('userOffline', user, info.at, origin, out);
    }
  }

  private nextDue(): number {
    let first: number | undefined;
    for (const info of this.pending.values()) if (first === undefined || info.due < first) first = info.due;
    return first === undefined ? -1 : Math.max(0, first - this.now());
  }
}

/** One node's presence backend on a {@link LoopbackPresenceNetwork}. */
class LoopbackPresenceBackend implements PresenceBackend {
  readonly backend = 'loopback';
  readonly nodeId: string;
  private closed = false;

  constructor(
    private readonly network: LoopbackPresenceNetwork,
    private readonly context: PresenceBackendContext,
  ) {
    this.nodeId = context.nodeId;
  }

  async start(): Promise<void> {
    this.up();
    this.network.start(this);
  }

  async assert(state: PresenceAssertion): Promise<LeaseResult> {
    this.up();
    return this.network.assert(this.context, state);
  }

  async heartbeat(): Promise<LeaseResult> {
    this.up();
    return this.network.heartbeat(this.context);
  }

  async add(connection: PresenceConnection): Promise<Omit<LeaseResult, 'epoch' | 'head'>> {
    this.up();
    return this.network.add(this.context, connection);
  }

  async remove(connectionId: string): Promise<TransitionResult> {
    this.up();
    return this.network.remove(this.context, connectionId);
  }

  async group(connectionId: string, group: string, member: boolean): Promise<void> {
    this.up();
    this.network.group(this.context, connectionId, group, member);
  }

  async leave(): Promise<TransitionResult> {
    this.up();
    return this.network.leave(this.context);
  }

  async readEvents(epoch: string, after: number, upTo: number): Promise<readonly PresenceLogEvent[]> {
    this.up();
    return this.network.readEvents(epoch, after, upTo);
  }

  async isOnline(userId: string): Promise<boolean> {
    this.up();
    return this.network.query().isOnline(userId);
  }

  async onlineUsers(): Promise<string[]> {
    this.up();
    return this.network.query().onlineUsers();
  }

  async userConnections(userId: string): Promise<PresenceConnection[]> {
    this.up();
    return this.network.query().userConnections(userId);
  }

  async groupConnectionCount(group: string): Promise<number> {
    this.up();
    return this.network.query().groupConnectionCount(group);
  }

  async groupConnections(group: string): Promise<PresenceConnection[]> {
    this.up();
    return this.network.query().groupConnections(group);
  }

  async groupUsers(group: string): Promise<string[]> {
    this.up();
    return this.network.query().groupUsers(group);
  }

  async groupUserCount(group: string): Promise<number> {
    this.up();
    return this.network.query().groupUserCount(group);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.network.stop(this);
  }

  /** Rejects while the network is {@link LoopbackPresenceNetwork.unavailable}. */
  private up(): void {
    if (this.network.unavailable) throw new Error('loopback presence: the backend is unreachable');
  }

  /** @internal */
  deliver(events: PresenceLogEvent[]): void {
    if (!this.closed) this.context.receiver.events(events);
  }

  /** @internal */
  change(change: Parameters<PresenceBackendContext['receiver']['remoteChange']>[0]): void {
    if (!this.closed) this.context.receiver.remoteChange(change);
  }
}

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

/** Epochs as the Redis store writes them: microsecond timestamps of one length. */
function epochOf(ms: number): string {
  return `${String(Math.floor(ms)).padStart(13, '0')}000`;
}
