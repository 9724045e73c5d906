/**
 * The Redis {@link PresenceStore}: the presence of a cluster of nodes over one Redis, with node
 * leases, grace periods and online/offline transitions decided in Lua scripts (see
 * redis-presence-scripts.ts for the keys), and events delivered exactly once to every node.
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  type NewPresenceConnection,
  type PresenceConnection,
  type PresenceEvent,
  type PresenceListener,
  type PresenceStore,
  presenceDefaults,
  SwitchboardError,
} from '@switchboard/server';
import { Redis, type RedisOptions } from 'ioredis';
import { BackplaneError } from '../errors.js';
import {
  addScript,
  assertScript,
  closeScript,
  groupScript,
  heartbeatScript,
  readConnectionsScript,
  removeScript,
} from './redis-presence-scripts.js';

/** Options of a {@link RedisPresenceStore}. */
export interface RedisPresenceStoreOptions {
  /** The Redis to use: ioredis options or a `redis://` URL. Default `redis://127.0.0.1:6379`. */
  redis?: RedisOptions | string;
  /** Prefix of every key and channel; keeps clusters (and test runs) apart. Default `sb:presence:`. */
  prefix?: string;
  /** This node's id, unique in the cluster. Default a random UUID. */
  nodeId?: string;
  /** How long a user with no connection left stays online before `userOffline`. Default 5 000 ms. */
  graceMs?: number;
  /** How long a node that stopped heartbeating keeps its connections. Default 15 000 ms. */
  leaseMs?: number;
  /** How often the node renews its lease and looks for dead nodes and due offlines. Default leaseMs / 3. */
  heartbeatIntervalMs?: number;
  /** How many recent events the log keeps for nodes catching up after a resubscribe. Default 1 000. */
  eventLogLength?: number;
  /**
   * Receives what goes wrong without a caller to reject: a listener that threw (with the event), a
   * Redis error of the heartbeat or the subscription (`SB_ERR_BACKPLANE_REDIS`, retried by itself),
   * events lost beyond the log (`SB_ERR_BACKPLANE_REPLAY_GAP`). Default: a process warning.
   */
  onError?: (error: unknown, event?: PresenceEvent) => void;
}

/** An event as it travels on the presence channel. */
interface WireEvent {
  /** The epoch of the numbering (a new one after a flush). */
  e: string;
  /** The event number within the epoch: 1, 2, 3 … with no gap. */
  s: number;
  t: 'userOnline' | 'userOffline';
  u: string;
  a: number;
  o: string;
}

interface LocalConnection {
  readonly userId: string;
  readonly json: string;
  readonly groups: Set<string>;
}

type ScriptName = 'sbpAdd' | 'sbpRemove' | 'sbpGroup' | 'sbpHeartbeat' | 'sbpAssert' | 'sbpClose' | 'sbpRead';
type ScriptRunner = (...args: (string | number)[]) => Promise<unknown>;

const scripts: Record<ScriptName, string> = {
  sbpAdd: addScript,
  sbpRemove: removeScript,
  sbpGroup: groupScript,
  sbpHeartbeat: heartbeatScript,
  sbpAssert: assertScript,
  sbpClose: closeScript,
  sbpRead: readConnectionsScript,
};

/**
 * The {@link PresenceStore} over Redis: one instance per node, every node with its own `nodeId` and
 * the same `prefix`. Await {@link ready} (or any method, which waits for it) before relying on the
 * node being in the cluster.
 *
 * - Each node holds a lease (`lease:<node>` with a PX expiry) renewed by its heartbeat; a node whose
 *   lease ran out is swept once by a surviving node's heartbeat (an atomic script).
 * - Online/offline transitions are decided in scripts; an offline waits in a sorted set of due times
 *   and is claimed once by whichever node's heartbeat (or grace timer) finds it due.
 * - Events carry an epoch and a gapless number; they are published and appended to a short stream.
 *   Each node delivers each number once, in order, reading any gap from the stream (after a
 *   resubscribe, or when its heartbeat sees it is behind).
 * - After a Redis restart or flush the node finds its lease gone on the next heartbeat and
 *   re-asserts its lease, connections and their groups (kept in memory), without announcing its
 *   users again.
 *
 * Never throws on a Redis error outside a call: the heartbeat reports to `onError` and retries.
 *
 * @example
 * ```ts
 * const presence = new RedisPresenceStore({ redis: process.env.REDIS_URL, nodeId: 'node-a' });
 * await presence.ready;
 * presence.subscribe((e) => console.log(e.type, e.userId));
 * ```
 */
export class RedisPresenceStore implements PresenceStore {
  readonly nodeId: string;
  /** Resolves once the node joined the cluster (or reported why not; the heartbeat retries). */
  readonly ready: Promise<void>;
  private readonly prefix: string;
  private readonly graceMs: number;
  private readonly leaseMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly logLength: number;
  private readonly onError: (error: unknown, event?: PresenceEvent) => void;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly token = randomUUID();
  private readonly listeners = new Set<PresenceListener>();
  /** This node's connections, in arrival order, to re-assert after a flush. */
  private readonly local = new Map<string, LocalConnection>();
  /** The users online as this node's events tell: re-asserted after a flush. */
  private readonly onlineView = new Set<string>();
  /** The epoch of the node's last lease: a different one in Redis means a flush happened. */
  private leaseEpoch = '';
  private epoch: string | undefined;
  private lastSeq = 0;
  private pump: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;
  private dead = false;

  constructor(options: RedisPresenceStoreOptions = {}) {
    this.nodeId = options.nodeId ?? randomUUID();
    this.prefix = options.prefix ?? 'sb:presence:';
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
    this.logLength = checkMs('eventLogLength', options.eventLogLength ?? 1_000, 1);
    this.onError = options.onError ?? reportError;
    const redis = options.redis ?? 'redis://127.0.0.1:6379';
    this.redis = typeof redis === 'string' ? new Redis(redis) : new Redis(redis);
    this.sub = this.redis.duplicate({ connectionName: `${this.prefix}${this.nodeId}:sub` });
    for (const [name, lua] of Object.entries(scripts))
      this.redis.defineCommand(name, { numberOfKeys: 0, lua });
    for (const connection of [this.redis, this.sub]) {
      connection.on('error', (error: unknown) => this.report(redisError('connection', error)));
    }
    this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    // After a reconnect ioredis resubscribes by itself; read what was published meanwhile.
    let subscribedOnce = false;
    this.sub.on('ready', () => {
      if (subscribedOnce) void this.tick();
      subscribedOnce = true;
    });
    this.ready = this.join();
    this.heartbeat = setInterval(() => void this.tick(), this.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  async addConnection(connection: NewPresenceConnection): Promise<void> {
    await this.open();
    const stored: PresenceConnection = { ...connection, nodeId: this.nodeId };
    const json = JSON.stringify(stored);
    const previous = this.local.get(connection.connectionId);
    const groups = previous?.userId === connection.userId ? previous.groups : new Set<string>();
    this.local.delete(connection.connectionId); // an update keeps its place in Redis, not here
    this.local.set(connection.connectionId, { userId: connection.userId, json, groups });
    const [leaseOk, events] = (await this.run(
      'sbpAdd',
      connection.connectionId,
      connection.userId,
      json,
      this.token,
    )) as [number, string[]];
    await this.ingest(events);
    if (leaseOk !== 1) {
      // The lease is gone (a flush, a stall): re-assert everything, this connection included.
      await this.ticking;
      await this.assert();
    }
  }

  async removeConnection(connectionId: string): Promise<void> {
    if (this.closed) return;
    await this.ready;
    this.local.delete(connectionId);
    const [events, dueInMs] = (await this.run('sbpRemove', connectionId)) as [string[], number];
    await this.ingest(events);
    this.scheduleDue(dueInMs);
  }

  async addToGroup(connectionId: string, group: string): Promise<void> {
    await this.open();
    this.local.get(connectionId)?.groups.add(group);
    await this.run('sbpGroup', connectionId, group, '1');
  }

  async removeFromGroup(connectionId: string, group: string): Promise<void> {
    if (this.closed) return;
    await this.ready;
    this.local.get(connectionId)?.groups.delete(group);
    await this.run('sbpGroup', connectionId, group, '0');
  }

  async isOnline(userId: string): Promise<boolean> {
    await this.open();
    return (await this.redis.sismember(this.key('online'), userId)) === 1;
  }

  async onlineUsers(): Promise<string[]> {
    await this.open();
    return this.redis.smembers(this.key('online'));
  }

  async userConnections(userId: string): Promise<PresenceConnection[]> {
    await this.open();
    return this.readConnections('user', userId);
  }

  async groupConnectionCount(group: string): Promise<number> {
    await this.open();
    return this.redis.scard(this.key(`group:${group}`));
  }

  async groupConnections(group: string): Promise<PresenceConnection[]> {
    await this.open();
    return this.readConnections('group', group);
  }

  async groupUsers(group: string): Promise<string[]> {
    await this.open();
    return this.redis.hkeys(this.key(`gusers:${group}`));
  }

  async groupUserCount(group: string): Promise<number> {
    await this.open();
    return this.redis.hlen(this.key(`gusers:${group}`));
  }

  subscribe(listener: PresenceListener): () => void {
    this.assertOpen();
    // A wrapper per subscription: one function subscribed twice hears everything twice.
    const subscription: PresenceListener = (event) => listener(event);
    this.listeners.add(subscription);
    return () => {
      this.listeners.delete(subscription);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTimers();
    this.listeners.clear();
    if (this.dead) return;
    await this.ready;
    await this.ticking;
    try {
      await this.run('sbpClose', this.token);
    } catch (error) {
      this.report(redisError('close', error));
    }
    this.local.clear();
    await Promise.allSettled([this.redis.quit(), this.sub.quit()]);
  }

  /**
   * Stops the node as SIGKILL would, for tests: no more heartbeats, no clean-up, listeners silent,
   * both Redis connections dropped. Its connections stay in Redis until a survivor sweeps them.
   */
  destroyWithoutCleanup(): void {
    if (this.dead) return;
    this.dead = true;
    this.closed = true;
    this.stopTimers();
    this.listeners.clear();
    this.redis.disconnect();
    this.sub.disconnect();
  }

  // ---- internals -------------------------------------------------------------------------------

  private async join(): Promise<void> {
    try {
      await this.sub.subscribe(this.key('events'), this.key(`ctl:${this.nodeId}`));
      for (const user of await this.redis.smembers(this.key('online'))) this.onlineView.add(user);
      await this.assert();
    } catch (error) {
      this.report(redisError('join', error));
    }
  }

  /**
   * Asserts the lease and this node's connections. At the start, the event numbering starts from
   * the current head: a subscriber hears what happens after it subscribed.
   */
  private async assert(): Promise<void> {
    const state = {
      c: [...this.local].map(([id, c]) => [id, c.userId, c.json, [...c.groups]]),
      u: [...this.onlineView],
    };
    const [epoch, head, events, dueInMs] = (await this.run(
      'sbpAssert',
      this.token,
      this.leaseMs,
      this.leaseEpoch,
      JSON.stringify(state),
    )) as [string, number, string[], number];
    this.leaseEpoch = epoch;
    if (this.epoch === undefined) {
      this.epoch = epoch;
      this.lastSeq = head - events.length;
    }
    await this.ingest(events, { epoch, head });
    this.scheduleDue(dueInMs);
  }

  /** One heartbeat; concurrent calls share the one running. Never rejects. */
  private tick(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.ticking ??= this.beat().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async beat(): Promise<void> {
    try {
      await this.ready;
      if (this.closed) return;
      const [ok, epoch, head, events, dueInMs] = (await this.run(
        'sbpHeartbeat',
        this.token,
        this.leaseMs,
      )) as [number, string, number, string[], number];
      if (ok === 1) this.leaseEpoch = epoch;
      await this.ingest(events, { epoch, head });
      if (ok !== 1 && !this.closed) await this.assert();
      else this.scheduleDue(dueInMs);
    } catch (error) {
      this.report(redisError('heartbeat', error));
    }
  }

  /** Runs a tick when the next offline falls due, if that comes before the next heartbeat. */
  private scheduleDue(dueInMs: number): void {
    if (this.closed || dueInMs < 0 || dueInMs >= this.heartbeatIntervalMs) return;
    if (this.dueTimer) return;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      void this.tick();
    }, dueInMs + 1);
    this.dueTimer.unref();
  }

  private onMessage(channel: string, message: string): void {
    if (this.closed) return;
    if (channel === this.key('events')) {
      // Before the node joined, the numbering's start is unknown; the join's head covers these.
      if (this.epoch !== undefined) void this.ingest([message]);
      return;
    }
    // A change another node made to one of this node's connections.
    try {
      const [kind, connectionId, group] = JSON.parse(message) as [string, string, string?];
      if (kind === 'rm') this.local.delete(connectionId);
      else if (kind === 'ga' && group !== undefined) this.local.get(connectionId)?.groups.add(group);
      else if (kind === 'gr' && group !== undefined) this.local.get(connectionId)?.groups.delete(group);
    } catch (error) {
      this.report(error);
    }
  }

  /**
   * Queues events (and what the log head says) for delivery: in number order, each once, a gap
   * read from the log first. Resolves once they are delivered; never rejects.
   */
  private ingest(raw: readonly string[], head?: { epoch: string; head: number }): Promise<void> {
    const run = this.pump.then(() => this.deliverAll(raw, head));
    this.pump = run.catch((error: unknown) => this.report(redisError('event delivery', error)));
    return this.pump;
  }

  private async deliverAll(raw: readonly string[], head?: { epoch: string; head: number }): Promise<void> {
    const events = raw.map((text) => JSON.parse(text) as WireEvent);
    events.sort((x, y) => compareEpochs(x.e, y.e) || x.s - y.s);
    for (const event of events) {
      if (!this.enterEpoch(event.e)) continue;
      if (event.s <= this.lastSeq) continue;
      if (event.s > this.lastSeq + 1) await this.catchUp(event.s - 1);
      this.lastSeq = event.s;
      this.deliver(event);
    }
    if (head && this.enterEpoch(head.epoch) && head.head > this.lastSeq) await this.catchUp(head.head);
  }

  /** Moves to a newer epoch (numbering restarts); false for an event of an older one. */
  private enterEpoch(epoch: string): boolean {
    if (this.epoch === undefined || compareEpochs(epoch, this.epoch) > 0) {
      this.epoch = epoch;
      this.lastSeq = 0;
      return true;
    }
    return this.epoch === epoch;
  }

  /** Delivers the logged events after `lastSeq` up to `upTo`. */
  private async catchUp(upTo: number): Promise<void> {
    const from = this.lastSeq + 1;
    const entries = await this.redis.xrange(this.key('log'), `0-${from}`, `0-${upTo}`);
    for (const [, fields] of entries) {
      const text = fields[fields.indexOf('ev') + 1];
      if (text === undefined) continue;
      const event = JSON.parse(text) as WireEvent;
      if (event.e !== this.epoch || event.s <= this.lastSeq) continue;
      if (event.s > this.lastSeq + 1) this.reportGap(this.lastSeq + 1, event.s - 1);
      this.lastSeq = event.s;
      this.deliver(event);
    }
    if (this.lastSeq < upTo) {
      this.reportGap(this.lastSeq + 1, upTo);
      this.lastSeq = upTo;
    }
  }

  private reportGap(from: number, to: number): void {
    this.report(
      new BackplaneError(
        'SB_ERR_BACKPLANE_REPLAY_GAP',
        `Presence events ${from}..${to} of node '${this.nodeId}' are no longer in the event log.`,
      ),
    );
  }

  private deliver(wire: WireEvent): void {
    if (wire.t === 'userOnline') this.onlineView.add(wire.u);
    else this.onlineView.delete(wire.u);
    const event: PresenceEvent = Object.freeze({
      type: wire.t,
      userId: wire.u,
      at: wire.a,
      originNodeId: wire.o,
    });
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.onError(error, event);
      }
    }
  }

  private async readConnections(kind: 'user' | 'group', name: string): Promise<PresenceConnection[]> {
    const jsons = (await this.runRaw('sbpRead', this.prefix, kind, name)) as string[];
    return jsons.map(parseConnection);
  }

  private run(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    return this.runRaw(name, this.prefix, this.logLength, this.graceMs, this.nodeId, ...args);
  }

  private runRaw(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    const runner = (this.redis as unknown as Record<ScriptName, ScriptRunner>)[name];
    return runner.apply(this.redis, args);
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }

  private async open(): Promise<void> {
    this.assertOpen();
    await this.ready;
    this.assertOpen();
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new SwitchboardError(
        'SB_ERR_PRESENCE_CLOSED',
        `The presence store of node '${this.nodeId}' is closed.`,
      );
    }
  }

  private stopTimers(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.dueTimer);
    this.heartbeat = undefined;
    this.dueTimer = undefined;
  }

  private report(error: unknown): void {
    try {
      this.onError(error);
    } catch {
      // an onError that throws must not stop the store
    }
  }
}

/** Epochs are decimal microsecond timestamps of equal length; a later one is larger. */
function compareEpochs(x: string, y: string): number {
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
}

function parseConnection(json: string): PresenceConnection {
  const c = JSON.parse(json) as PresenceConnection;
  return Object.freeze({
    connectionId: c.connectionId,
    userId: c.userId,
    nodeId: c.nodeId,
    ...(c.hubPath === undefined ? {} : { hubPath: c.hubPath }),
    transport: c.transport,
    connectedAt: c.connectedAt,
    device: Object.freeze({ type: c.device.type, browser: c.device.browser }),
  });
}

function redisError(what: string, cause: unknown): BackplaneError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new BackplaneError('SB_ERR_BACKPLANE_REDIS', `Presence ${what} failed: ${message}`, { cause });
}

function checkMs(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new SwitchboardError(
      'SB_ERR_HUB_CONFIGURATION',
      `Presence ${name} must be a finite number, at least ${min}; got ${value}.`,
    );
  }
  return value;
}

function reportError(error: unknown, event?: PresenceEvent): void {
  const about = event ? ` on ${event.type} of '${event.userId}'` : '';
  process.emitWarning(`Redis presence${about}: ${error instanceof Error ? error.message : String(error)}`, {
    code: 'SB_PRESENCE_REDIS',
  });
}
