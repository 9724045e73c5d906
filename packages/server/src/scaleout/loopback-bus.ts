/**
 * The in-memory backend of the scale-out core: a {@link LoopbackNetwork} stands for the shared
 * backend (a Redis, a database, a broker) and gives each node's hub a {@link Bus} on it, so that
 * the whole core (several nodes, replay log, outages) runs in one process, for tests without
 * services.
 * @module
 */
import { newBusCounters } from './adapter-kit.js';
import type {
  Bus,
  BusContext,
  BusCounters,
  BusFactory,
  BusStatus,
  LogEntry,
  LogPosition,
  PublishOptions,
  ReplayLog,
} from './bus.js';
import { type Channel, channelName } from './channels.js';
import { BackplaneError } from './errors.js';
import { PublishQueue } from './publish-queue.js';

/** Options of a {@link LoopbackNetwork}. */
export interface LoopbackNetworkOptions {
  /** Keep a replay log per channel (the core's gap and catch-up rules run). Default true. */
  readonly log?: boolean;
  /** Replay window: entries kept per channel log. Default 10 000. */
  readonly maxLen?: number;
  /** Publishes a disconnected node queues; past it the oldest is dropped and reported. Default 10 000. */
  readonly maxQueuedPublishes?: number;
}

interface StoredEntry extends LogEntry {
  readonly seq: number;
}

interface ChannelLog {
  readonly entries: StoredEntry[];
  next: number;
}

/**
 * An in-memory backend shared by the nodes of one process. Test hooks: {@link disconnect} and
 * {@link reconnect} a node (its live deliveries are lost meanwhile, its publishes queue; the log
 * keeps everything for the catch-up), {@link trim} a channel's log.
 */
export class LoopbackNetwork {
  readonly options: Required<LoopbackNetworkOptions>;
  private readonly subscribers = new Map<string, Set<LoopbackBus>>();
  private readonly logs = new Map<string, ChannelLog>();
  private readonly buses = new Set<LoopbackBus>();

  constructor(options: LoopbackNetworkOptions = {}) {
    this.options = {
      log: options.log ?? true,
      maxLen: options.maxLen ?? 10_000,
      maxQueuedPublishes: options.maxQueuedPublishes ?? 10_000,
    };
  }

  /** The bus factory of a node (pass it to a `ScaleoutHubLifetimeManager`). */
  get bus(): BusFactory {
    return (context) => {
      const bus = new LoopbackBus(this, context);
      this.buses.add(bus);
      return bus;
    };
  }

  /** Cuts a node off: live deliveries to it are lost and its publishes queue until {@link reconnect}. */
  disconnect(nodeId: string): void {
    for (const bus of this.buses) if (bus.nodeId === nodeId) bus.setConnected(false);
  }

  /** Brings a node back: its queue goes out, then it catches up from the logs. */
  reconnect(nodeId: string): void {
    for (const bus of this.buses) if (bus.nodeId === nodeId) bus.setConnected(true);
  }

  /** Drops the oldest entries of a channel's log, keeping `keep` (a replay window passing by). */
  trim(hubName: string, channel: Channel, keep: number): void {
    const log = this.logs.get(key(hubName, channel));
    if (log && log.entries.length > keep) log.entries.splice(0, log.entries.length - keep);
  }

  /** @internal */
  subscribe(bus: LoopbackBus, channel: Channel): void {
    const k = key(bus.hubName, channel);
    let set = this.subscribers.get(k);
    if (!set) {
      set = new Set();
      this.subscribers.set(k, set);
    }
    set.add(bus);
  }

  /** @internal */
  unsubscribe(bus: LoopbackBus, channel: Channel): void {
    const k = key(bus.hubName, channel);
    const set = this.subscribers.get(k);
    set?.delete(bus);
    if (set?.size === 0) this.subscribers.delete(k);
  }

  /** @internal */
  forget(bus: LoopbackBus): void {
    this.buses.delete(bus);
    for (const [k, set] of this.subscribers) {
      set.delete(bus);
      if (set.size === 0) this.subscribers.delete(k);
    }
  }

  /** @internal Appends and delivers; returns how many nodes subscribe. */
  publish(hubName: string, channel: Channel, payload: Uint8Array): number {
    const k = key(hubName, channel);
    let position: { position: LogPosition; previous: LogPosition } | undefined;
    if (this.options.log) {
      let log = this.logs.get(k);
      if (!log) {
        log = { entries: [], next: 1 };
        this.logs.set(k, log);
      }
      const previous = log.entries.at(-1)?.position ?? '';
      const seq = log.next++;
      const entry: StoredEntry = { seq, position: String(seq), previous, payload };
      log.entries.push(entry);
      if (log.entries.length > this.options.maxLen) log.entries.shift();
      position = { position: entry.position, previous };
    }
    const subscribers = [...(this.subscribers.get(k) ?? [])];
    // Asynchronous, in publish order, as a network delivers.
    queueMicrotask(() => {
      for (const bus of subscribers) bus.receive(channel, payload, position);
    });
    return subscribers.length;
  }

  /** @internal */
  tail(hubName: string, channel: Channel): LogPosition {
    return this.logs.get(key(hubName, channel))?.entries.at(-1)?.position ?? '';
  }

  /** @internal */
  read(hubName: string, channel: Channel, after: LogPosition): LogEntry[] {
    const entries = this.logs.get(key(hubName, channel))?.entries ?? [];
    const from = after === '' ? 0 : Number(after);
    return entries.filter((e) => e.seq > from);
  }
}

/** One node's bus of one hub on a {@link LoopbackNetwork}. */
class LoopbackBus implements Bus {
  readonly backend = 'loopback';
  readonly log: ReplayLog | undefined;
  readonly counters: BusCounters = newBusCounters();
  readonly nodeId: string;
  readonly hubName: string;
  private connected = true;
  private closed = false;
  private readonly queue: PublishQueue<{ channel: Channel; payload: Uint8Array }>;

  constructor(
    private readonly network: LoopbackNetwork,
    private readonly context: BusContext,
  ) {
    this.nodeId = context.nodeId;
    this.hubName = context.hubName;
    this.queue = new PublishQueue({
      maxQueued: network.options.maxQueuedPublishes,
      writable: () => this.connected && !this.closed,
      write: async ({ channel, payload }) => network.publish(this.hubName, channel, payload),
      overflow: (dropped) =>
        this.report(
          'SB_ERR_BACKPLANE_QUEUE_OVERFLOW',
          `Loopback: publish queue full; a send to ${channelName(dropped.channel)} dropped`,
        ),
      counters: this.counters,
    });
    this.log = network.options.log
      ? {
          compare: (a, b) => Number(a) - Number(b),
          tail: async (channel) => {
            this.assertUp();
            return network.tail(this.hubName, channel);
          },
          read: async (channel, after) => {
            this.assertUp();
            return network.read(this.hubName, channel, after);
          },
        }
      : undefined;
  }

  async subscribe(channel: Channel): Promise<void> {
    if (!this.closed) this.network.subscribe(this, channel);
  }

  async unsubscribe(channel: Channel): Promise<void> {
    this.network.unsubscribe(this, channel);
  }

  publish(channel: Channel, payload: Uint8Array, _options?: PublishOptions): Promise<number | undefined> {
    return this.queue.publish({ channel, payload });
  }

  async ready(): Promise<void> {}

  async flush(): Promise<void> {
    // Deliveries are microtasks: let those queued so far run.
    await new Promise((resolve) => setImmediate(resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.close(0);
    this.closed = true;
    this.network.forget(this);
  }

  status(): BusStatus {
    return { connected: this.connected && !this.closed, queued: this.queue.length };
  }

  /** @internal */
  receive(
    channel: Channel,
    payload: Uint8Array,
    position: { position: string; previous: string } | undefined,
  ): void {
    if (!this.connected || this.closed) return; // lost on the wire: the log has it
    this.counters.messagesReceived++;
    this.counters.bytesReceived += payload.byteLength;
    this.context.receiver.message(channel, payload, position);
  }

  /** @internal */
  setConnected(up: boolean): void {
    if (this.closed || this.connected === up) return;
    this.connected = up;
    if (!up) {
      this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'Loopback: the node was disconnected (test hook)');
      return;
    }
    this.counters.reconnects++;
    this.context.receiver.resubscribing();
    this.queue.drain();
    this.context.receiver.reconnected();
  }

  private assertUp(): void {
    if (!this.connected || this.closed) throw new Error('Loopback: the node is disconnected');
  }

  private report(
    code: 'SB_ERR_BACKPLANE_QUEUE_OVERFLOW' | 'SB_ERR_BACKPLANE_UNAVAILABLE',
    message: string,
  ): void {
    this.counters.errors++;
    this.context.receiver.error(new BackplaneError(code, message, { backend: 'loopback' }));
  }
}

function key(hubName: string, channel: Channel): string {
  return `${hubName}\u0000${channelName(channel)}`;
}
