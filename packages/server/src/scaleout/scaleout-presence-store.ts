/**
 * The scale-out {@link PresenceStore}: one per node, over a backend's few atomic operations
 * ({@link PresenceBackend}: lease, transition, sweep, event log). The core keeps the node's own
 * connections, the heartbeat and the timer of the next due offline, delivers every event exactly
 * once and in order (reading a gap from the backend's log), and re-asserts the node after its
 * lease was lost (a flush, a restart of the backend, a stall).
 * @module
 */
import { randomUUID } from 'node:crypto';
import { SwitchboardError } from '../errors.js';
import type { Logger } from '../logger.js';
import { presenceDefaults } from '../presence/default-presence-store.js';
import { PresenceListeners } from '../presence/presence-listeners.js';
import type {
  NewPresenceConnection,
  PresenceConnection,
  PresenceEvent,
  PresenceListener,
  PresenceStore,
} from '../presence/presence-store.js';
import { label } from './channel-sequencer.js';
import { BackplaneError } from './errors.js';
import type {
  LogHead,
  PresenceBackend,
  PresenceBackendFactory,
  PresenceLogEvent,
  TransitionResult,
} from './presence-backend.js';

/** Options of a {@link ScaleoutPresenceStore}. */
export interface ScaleoutPresenceStoreOptions {
  /** Builds the node's presence backend. */
  readonly backend: PresenceBackendFactory;
  /** This node's id, unique in the cluster. Default a random UUID. */
  readonly nodeId?: string;
  /** How long a user with no connection left stays online before `userOffline`. Default 5 000 ms. */
  readonly graceMs?: number;
  /** How long a node that stopped heartbeating keeps its connections. Default 15 000 ms. */
  readonly leaseMs?: number;
  /** How often the node renews its lease and looks for dead nodes and due offlines. Default leaseMs / 3. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Receives what goes wrong without a caller to reject: a listener that threw (with the event), a
   * backend fault of the heartbeat or the subscription, events lost beyond the log
   * (`SB_ERR_BACKPLANE_REPLAY_GAP`). Default: a process warning with code `warningCode`.
   */
  readonly onError?: (error: unknown, event?: PresenceEvent) => void;
  /** The process-warning code of the default `onError` (`SB_PRESENCE_REDIS` …). Default `SB_PRESENCE_LISTENER_FAILED`. */
  readonly warningCode?: string;
  /**
   * Receives `presence.error` (warn; error for lost events), `presence.reconnected` (info) and
   * `presence.reasserted` (warn), each with the node id and the backend. Default: silent.
   */
  readonly logger?: Logger;
}

/** What a {@link ScaleoutPresenceStore} counted since it started. */
export interface ScaleoutPresenceCounters {
  /** Errors reported (backend faults, lost events, a failed join; not listeners that threw). */
  readonly errors: number;
  /** Times the backend's connection came back after a loss. */
  readonly reconnects: number;
  /** Times the node re-asserted its lease and connections after losing them. */
  readonly reasserts: number;
  /** Backend calls the backend retried by itself (see {@link PresenceBackend.retries}). */
  readonly retries: number;
}

interface LocalConnection {
  readonly connection: PresenceConnection;
  readonly groups: Set<string>;
}

/**
 * The {@link PresenceStore} of the scale-out core. Await {@link ready} (or any method, which waits
 * for it) before relying on the node being in the cluster. Never throws on a backend error outside
 * a call: the heartbeat reports to `onError` and retries.
 */
export class ScaleoutPresenceStore implements PresenceStore {
  readonly nodeId: string;
  /** Resolves once the node joined the cluster (or reported why not; the heartbeat retries). */
  readonly ready: Promise<void>;
  private readonly backend: PresenceBackend;
  private readonly graceMs: number;
  private readonly leaseMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly onError: (error: unknown, event?: PresenceEvent) => void;
  private readonly logger: Logger | undefined;
  private readonly counts = { errors: 0, reconnects: 0, reasserts: 0 };
  private readonly listeners = new PresenceListeners();
  /** This node's connections, in arrival order, to re-assert after a lost lease. */
  private readonly local = new Map<string, LocalConnection>();
  /** The users online as this node's events tell: re-asserted after a lost lease. */
  private readonly onlineView = new Set<string>();
  /** The epoch of the node's last lease: a different one in the backend means it lost its state. */
  private leaseEpoch = '';
  /** Whether the backend started (its subscriptions hold); a failed start is retried by the join. */
  private started = false;
  /** Whether the node joined the cluster; until then every heartbeat tries the join again. */
  private joined = false;
  private epoch: string | undefined;
  private lastSeq = 0;
  private pump: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;
  private dead = false;

  constructor(options: ScaleoutPresenceStoreOptions) {
    this.nodeId = options.nodeId ?? randomUUID();
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
    const warningCode = options.warningCode ?? 'SB_PRESENCE_LISTENER_FAILED';
    this.onError = options.onError ?? ((error, event) => reportError(warningCode, error, event));
    this.logger = options.logger;
    this.backend = options.backend({
      nodeId: this.nodeId,
      token: randomUUID(),
      graceMs: this.graceMs,
      leaseMs: this.leaseMs,
      receiver: {
        events: (events) => {
          // Before the node joined, the numbering's start is unknown; the join's head covers these.
          if (!this.closed && this.epoch !== undefined) void this.ingest(events);
        },
        remoteChange: (change) => {
          if (change.kind === 'remove') this.local.delete(change.connectionId);
          else if (change.kind === 'addToGroup')
            this.local.get(change.connectionId)?.groups.add(change.group);
          else this.local.get(change.connectionId)?.groups.delete(change.group);
        },
        reconnected: () => {
          this.counts.reconnects++;
          this.logger?.info('presence.reconnected', { nodeId: this.nodeId, backend: this.backend.backend });
          void this.tick();
        },
        error: (error) => this.report(error),
      },
    });
    this.ready = this.join();
    this.heartbeat = setInterval(() => void this.tick(), this.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  /** What the store counted since it started (errors, reconnects, re-asserts, retries). */
  get counters(): ScaleoutPresenceCounters {
    return { ...this.counts, retries: this.backend.retries ?? 0 };
  }

  async addConnection(connection: NewPresenceConnection): Promise<void> {
    await this.open();
    const stored: PresenceConnection = { ...connection, nodeId: this.nodeId };
    const previous = this.local.get(connection.connectionId);
    const groups = previous?.connection.userId === connection.userId ? previous.groups : new Set<string>();
    this.local.delete(connection.connectionId); // an update keeps its place in the backend, not here
    this.local.set(connection.connectionId, { connection: stored, groups });
    const result = await this.backend.add(stored);
    await this.ingest(result.events);
    if (!result.leaseHeld) {
      // The lease is gone (a flush, a stall): re-assert everything, this connection included.
      await this.ticking;
      await this.assert();
    } else this.scheduleDue(result.dueInMs);
  }

  async removeConnection(connectionId: string): Promise<void> {
    if (this.closed) return;
    await this.ready;
    this.local.delete(connectionId);
    const result = await this.backend.remove(connectionId);
    await this.settle(result);
  }

  async addToGroup(connectionId: string, group: string): Promise<void> {
    await this.open();
    this.local.get(connectionId)?.groups.add(group);
    await this.backend.group(connectionId, group, true);
  }

  async removeFromGroup(connectionId: string, group: string): Promise<void> {
    if (this.closed) return;
    await this.ready;
    this.local.get(connectionId)?.groups.delete(group);
    await this.backend.group(connectionId, group, false);
  }

  async isOnline(userId: string): Promise<boolean> {
    await this.open();
    return this.backend.isOnline(userId);
  }

  async onlineUsers(): Promise<string[]> {
    await this.open();
    return this.backend.onlineUsers();
  }

  async userConnections(userId: string): Promise<PresenceConnection[]> {
    await this.open();
    return (await this.backend.userConnections(userId)).map(freeze);
  }

  async groupConnectionCount(group: string): Promise<number> {
    await this.open();
    return this.backend.groupConnectionCount(group);
  }

  async groupConnections(group: string): Promise<PresenceConnection[]> {
    await this.open();
    return (await this.backend.groupConnections(group)).map(freeze);
  }

  async groupUsers(group: string): Promise<string[]> {
    await this.open();
    return this.backend.groupUsers(group);
  }

  async groupUserCount(group: string): Promise<number> {
    await this.open();
    return this.backend.groupUserCount(group);
  }

  subscribe(listener: PresenceListener): () => void {
    this.assertOpen();
    return this.listeners.add(listener);
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
      await this.backend.leave();
    } catch (error) {
      this.report(this.failure('close', error));
    }
    this.local.clear();
    await this.backend.close().catch((error: unknown) => this.report(this.failure('close', error)));
  }

  /**
   * Stops the node as SIGKILL would, for tests: no more heartbeats, no clean-up, listeners silent,
   * the backend's connections dropped. Its connections stay until a survivor sweeps them.
   */
  destroyWithoutCleanup(): void {
    if (this.dead) return;
    this.dead = true;
    this.closed = true;
    this.stopTimers();
    this.listeners.clear();
    void this.backend.close().catch(() => {});
  }

  // ---- internals -------------------------------------------------------------------------------

  /**
   * Starts the backend (unless it started before) and asserts the node. Never rejects: a failure
   * (the backend unreachable at start) is reported, and the next heartbeat runs the join again.
   */
  private async join(): Promise<void> {
    try {
      if (!this.started) {
        await this.backend.start();
        this.started = true;
      }
      for (const user of await this.backend.onlineUsers()) this.onlineView.add(user);
      await this.assert();
      this.joined = true;
    } catch (error) {
      this.report(this.failure('join', error));
    }
  }

  /**
   * Asserts the lease and this node's connections. At the start, the event numbering starts from
   * the current head: a subscriber hears what happens after it subscribed.
   */
  private async assert(): Promise<void> {
    const reassert = this.leaseEpoch !== '';
    const result = await this.backend.assert({
      leaseEpoch: this.leaseEpoch,
      connections: [...this.local.values()].map((c) => ({ connection: c.connection, groups: [...c.groups] })),
      onlineUsers: [...this.onlineView],
    });
    this.leaseEpoch = result.epoch;
    if (reassert) {
      this.counts.reasserts++;
      this.logger?.warn('presence.reasserted', {
        nodeId: this.nodeId,
        backend: this.backend.backend,
        connections: this.local.size,
      });
    }
    if (this.epoch === undefined) {
      this.epoch = result.epoch;
      this.lastSeq = result.head - result.events.length;
    }
    await this.settle(result, result);
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
      if (!this.joined) return await this.join();
      const result = await this.backend.heartbeat();
      if (result.leaseHeld) this.leaseEpoch = result.epoch;
      await this.ingest(result.events, result);
      if (!result.leaseHeld && !this.closed) await this.assert();
      else this.scheduleDue(result.dueInMs);
    } catch (error) {
      this.report(this.failure('heartbeat', error));
    }
  }

  private async settle(result: TransitionResult, head?: LogHead): Promise<void> {
    await this.ingest(result.events, head);
    this.scheduleDue(result.dueInMs);
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

  /**
   * Queues events (and what the log head says) for delivery: in number order, each once, a gap
   * read from the log first. Resolves once they are delivered; never rejects.
   */
  private ingest(events: readonly PresenceLogEvent[], head?: LogHead): Promise<void> {
    const run = this.pump.then(() => this.deliverAll(events, head));
    this.pump = run.catch((error: unknown) => this.report(this.failure('event delivery', error)));
    return this.pump;
  }

  private async deliverAll(raw: readonly PresenceLogEvent[], head?: LogHead): Promise<void> {
    const events = [...raw].sort((x, y) => compareEpochs(x.e, y.e) || x.s - y.s);
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
    if (this.closed) return;
    for (const event of await this.backend.readEvents(this.epoch!, this.lastSeq, upTo)) {
      if (event.e !== this.epoch || event.s <= this.lastSeq || event.s > upTo) continue;
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
        `${label(this.backend.backend)}: presence events ${from}..${to} of node '${this.nodeId}' are no longer in the event log.`,
        { backend: this.backend.backend },
      ),
    );
  }

  private deliver(wire: PresenceLogEvent): void {
    if (wire.t === 'userOnline') this.onlineView.add(wire.u);
    else this.onlineView.delete(wire.u);
    const event: PresenceEvent = Object.freeze({
      type: wire.t,
      userId: wire.u,
      at: wire.a,
      originNodeId: wire.o,
    });
    this.listeners.deliver(event, (error, e) => this.onError(error, e));
  }

  private failure(what: string, cause: unknown): BackplaneError {
    const backend = this.backend.backend;
    const message = cause instanceof Error ? cause.message : String(cause);
    return new BackplaneError(
      'SB_ERR_BACKPLANE_UNAVAILABLE',
      `${label(backend)}: presence ${what} failed: ${message}`,
      {
        cause,
        backend,
      },
    );
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
    this.counts.errors++;
    if (this.logger) {
      const code = (error as { code?: unknown } | null)?.code;
      const fields = {
        code,
        message: error instanceof Error ? error.message : String(error),
        nodeId: this.nodeId,
        backend: this.backend.backend,
      };
      if (code === 'SB_ERR_BACKPLANE_REPLAY_GAP') this.logger.error('presence.error', fields);
      else this.logger.warn('presence.error', fields);
    }
    try {
      this.onError(error);
    } catch {
      // an onError that throws must not stop the store
    }
  }
}

/** Epochs of one backend are strings of one length, or longer when later; a later one is larger. */
function compareEpochs(x: string, y: string): number {
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
}

function freeze(c: PresenceConnection): PresenceConnection {
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

function checkMs(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new SwitchboardError(
      'SB_ERR_HUB_CONFIGURATION',
      `Presence ${name} must be a finite number, at least ${min}; got ${value}.`,
    );
  }
  return value;
}

function reportError(code: string, error: unknown, event?: PresenceEvent): void {
  const about = event ? ` on ${event.type} of '${event.userId}'` : '';
  process.emitWarning(`Presence${about}: ${error instanceof Error ? error.message : String(error)}`, {
    code,
  });
}
