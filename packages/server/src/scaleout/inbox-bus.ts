/**
 * The worker side of the in-box bus: the nodes of one process reach the machine's
 * {@link InboxBroker} (in the primary) over the process's IPC channel, with one {@link InboxClient}
 * per channel. A node gets a {@link Bus} per hub and a {@link PresenceBackend} from
 * {@link inboxNode}, or a whole backplane from {@link inboxBackplane}.
 *
 * The bus keeps no replay log: an IPC channel loses nothing and keeps order while both processes
 * live, and when the primary dies every worker goes with it. Each entry is delivered once, in the
 * order the broker received it.
 * @module
 */

import { randomUUID } from 'node:crypto';
import type { PresenceConnection } from '../presence/presence-store.js';
import { newBusCounters } from './adapter-kit.js';
import type { Backplane } from './backplane.js';
import type { Bus, BusContext, BusCounters, BusFactory, BusStatus, PublishOptions } from './bus.js';
import { type Channel, channelName, parseChannelName } from './channels.js';
import { type BackplaneCommonOptions, createBackplane, presenceErrorHandler } from './create-backplane.js';
import { BackplaneError } from './errors.js';
import {
  fromWire,
  type InboxPort,
  type InboxPush,
  type InboxRequest,
  isInboxMessage,
  type PresenceOperation,
  toWire,
} from './inbox-messages.js';
import type {
  LeaseResult,
  PresenceBackend,
  PresenceBackendContext,
  PresenceBackendFactory,
  PresenceLogEvent,
  TransitionResult,
} from './presence-backend.js';
import { ScaleoutPresenceStore } from './scaleout-presence-store.js';

type Request = InboxRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** A pending request's settlement. */
interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

const clients = new WeakMap<InboxPort, InboxClient>();

/**
 * One process's end of the in-box bus on one IPC channel, shared by every node and hub of the
 * process. Get it with {@link InboxClient.of}.
 */
export class InboxClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly buses = new Map<string, InboxBus>();
  private readonly presence = new Map<string, InboxPresenceBackend>();
  private up: boolean;
  /** Whether bytes travel as they are (an `advanced` channel) or as base64 (a `json` one). */
  readonly binary: boolean;

  private constructor(
    private readonly port: InboxPort,
    binary: boolean,
  ) {
    this.binary = binary;
    this.up = typeof port.send === 'function';
    port.on('message', (message: unknown) => {
      if (isInboxMessage(message)) this.receive(message as InboxPush);
    });
    port.on('disconnect', () => this.down());
    this.post({ sbInbox: 'hello', binary });
  }

  /**
   * The client of a channel (created on first use). `port` defaults to `process` (a worker's
   * channel to its primary); `binary` defaults to whether that channel uses `advanced`
   * serialization (`NODE_CHANNEL_SERIALIZATION_MODE`, which Node sets in a forked child).
   */
  static of(port: InboxPort = process as unknown as InboxPort, binary?: boolean): InboxClient {
    let client = clients.get(port);
    if (!client) {
      const advanced =
        binary ??
        (port === (process as unknown) ? process.env.NODE_CHANNEL_SERIALIZATION_MODE === 'advanced' : true);
      client = new InboxClient(port, advanced);
      clients.set(port, client);
    }
    return client;
  }

  /** Whether the channel to the broker is open. */
  get connected(): boolean {
    return this.up;
  }

  /** @internal Sends a request and resolves with its reply's value. */
  request(request: Request): Promise<unknown> {
    if (!this.up)
      return Promise.reject(new Error('In-box bus: the channel to the primary process is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ ...request, id } as InboxRequest);
    });
  }

  /** @internal Sends a message that gets no reply. */
  post(message: InboxRequest): void {
    if (!this.up) return;
    try {
      this.port.send?.(message);
    } catch {
      this.down();
    }
  }

  /** @internal */
  register(key: string, target: InboxBus | InboxPresenceBackend | undefined): void {
    if (target instanceof InboxBus) this.buses.set(key, target);
    else if (target instanceof InboxPresenceBackend) this.presence.set(key, target);
    else {
      this.buses.delete(key);
      this.presence.delete(key);
    }
  }

  private receive(message: InboxPush): void {
    switch (message.sbInbox) {
      case 'reply': {
        const pending = this.pending.get(message.id);
        if (!pending) return;
        this.pending.delete(message.id);
        if (message.error !== undefined) pending.reject(new Error(`In-box bus: ${message.error}`));
        else pending.resolve(message.value);
        return;
      }
      case 'msg': {
        const channel = parseChannelName(message.ch);
        if (!channel) return;
        const payload = fromWire(message.data);
        for (const node of message.nodes)
          this.buses.get(`${node}\u0000${message.hub}`)?.receive(channel, payload);
        return;
      }
      case 'pevents':
        this.presence.get(`${message.node}\u0000${message.token}`)?.events(message.events);
        return;
      case 'pchange':
        this.presence.get(`${message.node}\u0000${message.token}`)?.change(message.change);
        return;
    }
  }

  private down(): void {
    if (!this.up) return;
    this.up = false;
    const error = new Error('In-box bus: the channel to the primary process closed');
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    for (const bus of this.buses.values()) bus.lost();
  }
}

/** One node's bus of one hub over an {@link InboxClient}. */
class InboxBus implements Bus {
  readonly backend = 'inbox';
  readonly counters: BusCounters = newBusCounters();
  private closed = false;
  private readonly key: string;

  constructor(
    private readonly client: InboxClient,
    private readonly context: BusContext,
  ) {
    this.key = `${context.nodeId}\u0000${context.hubName}`;
    client.register(this.key, this);
  }

  async subscribe(channel: Channel): Promise<void> {
    if (this.closed) return;
    await this.call({
      sbInbox: 'sub',
      node: this.context.nodeId,
      hub: this.context.hubName,
      ch: channelName(channel),
    });
  }

  async unsubscribe(channel: Channel): Promise<void> {
    if (this.closed) return;
    await this.call({
      sbInbox: 'unsub',
      node: this.context.nodeId,
      hub: this.context.hubName,
      ch: channelName(channel),
    });
  }

  async publish(
    channel: Channel,
    payload: Uint8Array,
    _options?: PublishOptions,
  ): Promise<number | undefined> {
    if (this.closed) return undefined;
    const receivers = await this.call({
      sbInbox: 'pub',
      node: this.context.nodeId,
      hub: this.context.hubName,
      ch: channelName(channel),
      data: toWire(payload, this.client.binary),
    });
    if (typeof receivers !== 'number') return undefined;
    this.counters.published++;
    return receivers;
  }

  async ready(): Promise<void> {}

  async flush(): Promise<void> {
    // The channel keeps order: once a ping is answered, every earlier publish was routed.
    if (!this.closed) await this.call({ sbInbox: 'ping' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.post({ sbInbox: 'closebus', node: this.context.nodeId, hub: this.context.hubName });
    this.client.register(this.key, undefined);
  }

  status(): BusStatus {
    return { connected: this.client.connected && !this.closed, queued: 0 };
  }

  /** @internal */
  receive(channel: Channel, payload: Uint8Array): void {
    if (this.closed) return;
    this.counters.messagesReceived++;
    this.counters.bytesReceived += payload.byteLength;
    this.context.receiver.message(channel, payload);
  }

  /** @internal The channel to the primary closed. */
  lost(): void {
    this.counters.errors++;
    this.context.receiver.error(
      new BackplaneError(
        'SB_ERR_BACKPLANE_UNAVAILABLE',
        'In-box bus: the channel to the primary process closed',
        {
          backend: 'inbox',
        },
      ),
    );
  }

  /** A request that never rejects: a failure is reported and answers `undefined`. */
  private async call(request: Request): Promise<unknown> {
    try {
      return await this.client.request(request);
    } catch (error) {
      this.counters.errors++;
      this.context.receiver.error(
        new BackplaneError(
          'SB_ERR_BACKPLANE_UNAVAILABLE',
          error instanceof Error ? error.message : String(error),
          {
            backend: 'inbox',
          },
        ),
      );
      return undefined;
    }
  }
}

/** One node's presence backend: every operation runs in the primary, atomically. */
class InboxPresenceBackend implements PresenceBackend {
  readonly backend = 'inbox';
  private readonly key: string;
  private closed = false;

  constructor(
    private readonly client: InboxClient,
    private readonly context: PresenceBackendContext,
  ) {
    this.key = `${context.nodeId}\u0000${context.token}`;
  }

  async start(): Promise<void> {
    this.client.register(this.key, this);
    const { nodeId: node, token, graceMs, leaseMs } = this.context;
    await this.client.request({ sbInbox: 'pstart', node, token, graceMs, leaseMs });
  }

  assert(state: Parameters<PresenceBackend['assert']>[0]): Promise<LeaseResult> {
    return this.call('assert', state);
  }
  heartbeat(): Promise<LeaseResult> {
    return this.call('heartbeat');
  }
  add(connection: PresenceConnection): Promise<Omit<LeaseResult, 'epoch' | 'head'>> {
    return this.call('add', connection);
  }
  remove(connectionId: string): Promise<TransitionResult> {
    return this.call('remove', connectionId);
  }
  group(connectionId: string, group: string, member: boolean): Promise<void> {
    return this.call('group', connectionId, group, member);
  }
  leave(): Promise<TransitionResult> {
    return this.call('leave');
  }
  readEvents(epoch: string, after: number, upTo: number): Promise<readonly PresenceLogEvent[]> {
    return this.call('readEvents', epoch, after, upTo);
  }
  isOnline(userId: string): Promise<boolean> {
    return this.call('isOnline', userId);
  }
  onlineUsers(): Promise<string[]> {
    return this.call('onlineUsers');
  }
  userConnections(userId: string): Promise<PresenceConnection[]> {
    return this.call('userConnections', userId);
  }
  groupConnectionCount(group: string): Promise<number> {
    return this.call('groupConnectionCount', group);
  }
  groupConnections(group: string): Promise<PresenceConnection[]> {
    return this.call('groupConnections', group);
  }
  groupUsers(group: string): Promise<string[]> {
    return this.call('groupUsers', group);
  }
  groupUserCount(group: string): Promise<number> {
    return this.call('groupUserCount', group);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.post({ sbInbox: 'pclose', node: this.context.nodeId, token: this.context.token });
    this.client.register(this.key, undefined);
  }

  /** @internal */
  events(events: readonly PresenceLogEvent[]): void {
    if (!this.closed) this.context.receiver.events(events);
  }

  /** @internal */
  change(change: Parameters<PresenceBackendContext['receiver']['remoteChange']>[0]): void {
    if (!this.closed) this.context.receiver.remoteChange(change);
  }

  private call<T>(op: PresenceOperation, ...args: (string | number | boolean | object)[]): Promise<T> {
    const { nodeId: node, token } = this.context;
    return this.client.request({ sbInbox: 'pcall', node, token, op, args }) as Promise<T>;
  }
}

/** What {@link inboxNode} gives a node: its bus factory and presence backend factory. */
export interface InboxNode {
  /** Builds the node's bus of each hub. */
  readonly bus: BusFactory;
  /** Builds the node's presence backend. */
  readonly presence: PresenceBackendFactory;
}

/**
 * A node on the in-box bus over `port` (default: this worker's channel to its primary), for a
 * {@link ScaleoutHubLifetimeManager} and a {@link ScaleoutPresenceStore} of one's own.
 */
export function inboxNode(port?: InboxPort): InboxNode {
  const client = InboxClient.of(port);
  return {
    bus: (context) => new InboxBus(client, context),
    presence: (context) => new InboxPresenceBackend(client, context),
  };
}

/** Options of {@link inboxBackplane}. */
export interface InboxBackplaneOptions extends BackplaneCommonOptions {
  /** The channel to the broker. Default `process` (a cluster worker's, or a forked child's). */
  readonly port?: InboxPort;
}

/**
 * The backplane of a worker process: every node of the machine's workers shares sends, groups,
 * users, client results, closes and presence through the primary's {@link InboxBroker}, with no
 * outside service. `clusterize` passes it to each worker's `HubServer`.
 *
 * @example
 * ```ts
 * // in a cluster worker whose primary runs an InboxBroker
 * const hubs = new HubServer({ backplane: inboxBackplane({ nodeId: `web-${cluster.worker!.id}` }) });
 * ```
 */
export function inboxBackplane(options: InboxBackplaneOptions = {}): Backplane {
  const node = inboxNode(options.port);
  return createBackplane({
    ...options,
    nodeId: options.nodeId ?? randomUUID(),
    backend: 'inbox',
    bus: node.bus,
    presence: (nodeId) =>
      new ScaleoutPresenceStore({
        backend: node.presence,
        nodeId,
        ...(options.presenceGraceMs !== undefined ? { graceMs: options.presenceGraceMs } : {}),
        ...(options.presenceLeaseMs !== undefined ? { leaseMs: options.presenceLeaseMs } : {}),
        onError: presenceErrorHandler(options, 'SB_PRESENCE_LISTENER_FAILED'),
      }),
  });
}
