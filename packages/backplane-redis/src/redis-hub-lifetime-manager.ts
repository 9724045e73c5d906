/**
 * The Redis backplane's {@link HubLifetimeManager}: one instance per hub per node, all nodes of a
 * cluster on one Redis (and one `prefix`).
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  type CompletionMessage,
  type HubProtocol,
  jsonHubProtocol,
  MessageType,
  messagePackHubProtocol,
} from '@switchboard/protocol';
import {
  type ClientInvocationOptions,
  ClientResultTracker,
  type CloseConnectionOptions,
  type HubConnectionRef,
  type HubLifetimeManager,
  LocalConnections,
  PendingAcks,
  RemoteInvocations,
  SerializedHubMessage,
} from '@switchboard/server';
import {
  deserializeMessage,
  type Envelope,
  encodeEnvelope,
  type MessageEnvelope,
  serializeMessage,
} from './envelope.js';
import { BackplaneError } from './errors.js';
import { RedisBus } from './redis-bus.js';
import type {
  RedisBackplaneCounters,
  RedisHubLifetimeManagerOptions,
} from './redis-hub-lifetime-manager-options.js';

/**
 * A {@link HubLifetimeManager} across nodes on Redis (docs/scale-out.md).
 *
 * Delivery: local recipients are written first and never wait for Redis. Every send is then
 * appended to its channel's replay log (a Redis stream) and published, in one script. Channels:
 * `all`, `group:<name>`, `user:<id>`, `connection:<id>` (subscribed by the owning node) and
 * `node:<id>` (a node's inbox: acknowledgements and client results). A node subscribes only to
 * the channels its connections need (counted by reference), skips its own echo, drops what it has
 * delivered, replays a gap from the log before delivering further, and after any reconnect reads
 * every subscribed channel's log from the last id it delivered. Within the replay window
 * (`maxLen`, `maxAgeMs`) nothing is lost and nothing arrives twice; beyond it the loss is counted
 * (`counters.lost`) and reported (`SB_ERR_BACKPLANE_REPLAY_GAP`).
 *
 * Order: the sends of one node to one channel arrive in the order they were made.
 *
 * Remote group changes are commands on the connection's channel: they resolve once the owning
 * node acknowledges, at once when no node holds the connection, and reject with
 * `SB_ERR_BACKPLANE_ACK_TIMEOUT` after `ackTimeoutMs` (the owner is hung or gone).
 *
 * Client results: the caller's node keeps the pending result; the owning node writes the
 * Invocation and forwards the client's Completion to the caller's inbox (or `disconnected`).
 *
 * Faults: Redis errors go to `onError` and the counters, never to a send. While Redis is
 * unreachable, sends serve local recipients and wait in a bounded queue.
 *
 * @example
 * ```ts
 * const hubs = new HubServer({
 *   lifetimeManagerFactory: (path) =>
 *     new RedisHubLifetimeManager({ redis: process.env.REDIS_URL, hubName: path, prefix: 'chat:' }),
 * });
 * ```
 */
export class RedisHubLifetimeManager implements HubLifetimeManager {
  /** This node's id. */
  readonly nodeId: string;
  private readonly bus: RedisBus;
  private readonly local = new LocalConnections();
  private readonly results = new ClientResultTracker();
  private readonly acks = new PendingAcks(
    (connectionId) =>
      new BackplaneError(
        'SB_ERR_BACKPLANE_ACK_TIMEOUT',
        `Timed out waiting for node acknowledgement of the group change of connection '${connectionId}'.`,
      ),
  );
  /** Invocations of callers on other nodes to this node's connections: connection → id → caller node. */
  private readonly remoteInvocations = new RemoteInvocations();
  private readonly protocols: readonly HubProtocol[];
  private readonly byName: Map<string, HubProtocol>;
  private readonly base: string;
  private readonly ackTimeoutMs: number;
  /**
   * Numbers envelopes, requests and invocation ids. It starts from the clock (in microseconds), so
   * that a node restarted under the same id does not reuse numbers the others remember as seen.
   */
  private sequence = Date.now() * 1_000;
  private readonly started: Promise<void>;

  constructor(options: RedisHubLifetimeManagerOptions = {}) {
    this.nodeId = options.nodeId ?? randomUUID();
    const hubName = options.hubName ?? 'hub';
    this.base = `${options.prefix ?? 'switchboard:'}${hubName}:`;
    this.protocols = options.protocols ?? [jsonHubProtocol, messagePackHubProtocol];
    this.byName = new Map(this.protocols.map((p) => [p.name, p]));
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
    this.bus = new RedisBus({
      redis: options.redis,
      connectionName: `${this.base}${this.nodeId}`,
      nodeId: this.nodeId,
      maxLen: options.maxLen ?? 10_000,
      maxAgeMs: options.maxAgeMs ?? 60_000,
      maxQueuedPublishes: options.maxQueuedPublishes ?? 10_000,
      onError: (error) => {
        const lossy =
          error.code === 'SB_ERR_BACKPLANE_REPLAY_GAP' ||
          error.code === 'SB_ERR_BACKPLANE_QUEUE_OVERFLOW' ||
          error.code === 'SB_ERR_BACKPLANE_LOG_RESET';
        const fields = { code: error.code, message: error.message, nodeId: this.nodeId, hubName };
        if (lossy) options.logger?.error('backplane.error', fields);
        else options.logger?.warn('backplane.error', fields);
        options.onError?.(error);
      },
      handler: (channel, envelope) => this.onEnvelope(channel, envelope),
    });
    this.started = Promise.all([
      this.bus.subscribe(this.channel('all')),
      this.bus.subscribe(this.inbox(this.nodeId)),
    ]).then(() => {});
  }

  /** This node's counters. */
  get counters(): RedisBackplaneCounters {
    return { ...this.bus.counters, subscribedChannels: this.bus.subscribedChannels };
  }

  /** Whether both Redis connections are up (while not, sends queue and catch-ups wait). */
  get connected(): boolean {
    return this.bus.connected;
  }

  /** How many client results this node waits for. */
  get pendingClientResults(): number {
    return this.results.size;
  }

  /** Resolves once Redis is connected and the node's channels are subscribed (or after `timeoutMs`). */
  async ready(timeoutMs = 10_000): Promise<void> {
    await this.started;
    await this.bus.settled(timeoutMs);
  }

  /** Resolves once everything this node sent so far has been written to Redis. */
  flush(): Promise<void> {
    return this.bus.idle();
  }

  /** Closes the Redis connections; waiting group changes and client results reject with SB_ERR_BACKPLANE_CLOSED. */
  async close(): Promise<void> {
    const error = new BackplaneError('SB_ERR_BACKPLANE_CLOSED', 'The lifetime manager was closed.');
    this.acks.failAll(error);
    this.results.failAll(error);
    await this.bus.close();
  }

  async onConnected(connection: HubConnectionRef): Promise<void> {
    const entry = this.local.add(connection);
    const subscriptions = [this.bus.subscribe(this.channel(`connection:${connection.connectionId}`))];
    if (entry.userId !== undefined)
      subscriptions.push(this.bus.subscribe(this.channel(`user:${entry.userId}`)));
    await Promise.all(subscriptions);
  }

  async onDisconnected(connection: HubConnectionRef): Promise<void> {
    const entry = this.local.remove(connection);
    if (!entry) return;
    const id = connection.connectionId;
    this.results.failConnection(id);
    for (const [invocationId, caller] of this.remoteInvocations.takeConnection(id)) {
      this.publish(this.inbox(caller), { k: 'res', c: id, i: invocationId, d: 'disc' });
    }
    const channels = [...entry.groups].map((g) => this.channel(`group:${g}`));
    channels.push(this.channel(`connection:${id}`));
    if (entry.userId !== undefined) channels.push(this.channel(`user:${entry.userId}`));
    await Promise.all(channels.map((c) => this.bus.unsubscribe(c)));
  }

  async sendAll(method: string, args: readonly unknown[]): Promise<void> {
    const message = invocation(method, args);
    this.local.writeAll(message, undefined);
    this.publishMessage(this.channel('all'), message, {});
    rethrow(message);
  }

  async sendAllExcept(method: string, args: readonly unknown[], excluded: readonly string[]): Promise<void> {
    const message = invocation(method, args);
    this.local.writeAll(message, new Set(excluded));
    this.publishMessage(this.channel('all'), message, { x: [...excluded] });
    rethrow(message);
  }

  async sendConnection(connectionId: string, method: string, args: readonly unknown[]): Promise<void> {
    await this.sendConnections([connectionId], method, args);
  }

  async sendConnections(
    connectionIds: readonly string[],
    method: string,
    args: readonly unknown[],
  ): Promise<void> {
    const message = invocation(method, args);
    for (const id of new Set(connectionIds)) {
      if (this.local.writeConnection(id, message)) continue;
      this.publishMessage(this.channel(`connection:${id}`), message, {});
    }
    rethrow(message);
  }

  async sendGroup(groupName: string, method: string, args: readonly unknown[]): Promise<void> {
    await this.sendGroupExcept(groupName, method, args, []);
  }

  async sendGroups(groupNames: readonly string[], method: string, args: readonly unknown[]): Promise<void> {
    const message = invocation(method, args);
    const groups = [...new Set(groupNames)];
    this.local.writeGroups(groups, message, undefined);
    // One envelope (one id) on every group's channel: a node that has members of several delivers once.
    const payload = this.messageEnvelope(message, { g: groups });
    if (payload) for (const g of groups) void this.bus.publish(this.channel(`group:${g}`), payload);
    rethrow(message);
  }

  async sendGroupExcept(
    groupName: string,
    method: string,
    args: readonly unknown[],
    excluded: readonly string[],
  ): Promise<void> {
    const message = invocation(method, args);
    this.local.writeGroups([groupName], message, excluded.length > 0 ? new Set(excluded) : undefined);
    this.publishMessage(
      this.channel(`group:${groupName}`),
      message,
      excluded.length > 0 ? { x: [...excluded] } : {},
    );
    rethrow(message);
  }

  async sendUser(userId: string, method: string, args: readonly unknown[]): Promise<void> {
    await this.sendUsers([userId], method, args);
  }

  async sendUsers(userIds: readonly string[], method: string, args: readonly unknown[]): Promise<void> {
    const message = invocation(method, args);
    for (const userId of new Set(userIds)) {
      this.local.writeUser(userId, message);
      this.publishMessage(this.channel(`user:${userId}`), message, {});
    }
    rethrow(message);
  }

  async addToGroup(connectionId: string, groupName: string): Promise<void> {
    if (this.local.has(connectionId)) return this.addLocal(connectionId, groupName);
    return this.remoteGroupChange('ga', connectionId, groupName);
  }

  async removeFromGroup(connectionId: string, groupName: string): Promise<void> {
    if (this.local.has(connectionId)) return this.removeLocal(connectionId, groupName);
    return this.remoteGroupChange('gr', connectionId, groupName);
  }

  invokeConnection(
    connectionId: string,
    method: string,
    args: readonly unknown[],
    options: ClientInvocationOptions = {},
  ): Promise<unknown> {
    const invocationId = `${this.nodeId}:${++this.sequence}`;
    const result = this.results.add(connectionId, invocationId, options);
    const message = new SerializedHubMessage({
      type: MessageType.Invocation,
      invocationId,
      target: method,
      arguments: args as unknown[],
    });
    if (this.local.writeConnection(connectionId, message)) {
      if (message.serializationError !== undefined)
        this.results.fail(connectionId, invocationId, message.serializationError);
      return result;
    }
    const payload = this.messageEnvelope(message, { i: invocationId, r: this.nodeId });
    if (!payload) {
      this.results.fail(connectionId, invocationId, message.serializationError);
      return result;
    }
    // The caller's promise is returned at once (a signal or timeout may settle it while the write
    // is under way); no subscriber on the connection's channel means no node holds it.
    void this.bus.publish(this.channel(`connection:${connectionId}`), payload).then((receivers) => {
      if (receivers === 0)
        this.results.fail(connectionId, invocationId, ClientResultTracker.doesNotExist(connectionId));
    });
    return result;
  }

  async setConnectionResult(connectionId: string, completion: CompletionMessage): Promise<void> {
    if (this.results.complete(connectionId, completion)) return;
    const caller = this.remoteInvocations.take(connectionId, completion.invocationId);
    if (caller === undefined) return; // late, unknown or settled: ignored
    this.publish(this.inbox(caller), {
      k: 'res',
      c: connectionId,
      i: completion.invocationId,
      e: completion.error,
      h: completion.hasResult,
      v: completion.hasResult ? completion.result : undefined,
    });
  }

  async closeConnection(connectionId: string, options: CloseConnectionOptions = {}): Promise<void> {
    if (this.local.closeConnection(connectionId, options)) return;
    this.publish(this.channel(`connection:${connectionId}`), {
      k: 'close',
      reason: options.reason,
      ar: options.allowReconnect,
    });
  }

  async closeUser(userId: string, options: CloseConnectionOptions = {}): Promise<void> {
    this.local.closeUser(userId, options);
    this.publish(this.channel(`user:${userId}`), {
      k: 'close',
      reason: options.reason,
      ar: options.allowReconnect,
    });
  }

  private async addLocal(connectionId: string, groupName: string): Promise<void> {
    if (this.local.addToGroup(connectionId, groupName))
      await this.bus.subscribe(this.channel(`group:${groupName}`));
  }

  private async removeLocal(connectionId: string, groupName: string): Promise<void> {
    if (this.local.removeFromGroup(connectionId, groupName))
      await this.bus.unsubscribe(this.channel(`group:${groupName}`));
  }

  private async remoteGroupChange(kind: 'ga' | 'gr', connectionId: string, groupName: string): Promise<void> {
    const q = ++this.sequence;
    const acknowledged = this.acks.wait(q, connectionId, this.ackTimeoutMs);
    const receivers = await this.publish(this.channel(`connection:${connectionId}`), {
      k: kind,
      c: connectionId,
      g: groupName,
      q,
      r: this.nodeId,
    });
    if (receivers === 0) this.acks.resolve(q); // no node holds the connection: nothing to change
    await acknowledged;
  }

  /** Handles what another node sent on one of this node's channels. */
  private onEnvelope(channel: string, envelope: Envelope): void {
    const target = channel.slice(this.base.length);
    switch (envelope.k) {
      case 'm':
        this.deliverMessage(target, envelope);
        return;
      case 'ga':
      case 'gr': {
        const change =
          envelope.k === 'ga'
            ? this.addLocal(envelope.c, envelope.g)
            : this.removeLocal(envelope.c, envelope.g);
        void change.then(() => this.publish(this.inbox(envelope.r), { k: 'ack', q: envelope.q }));
        return;
      }
      case 'close': {
        const options = { reason: envelope.reason, allowReconnect: envelope.ar };
        if (target.startsWith('user:')) this.local.closeUser(target.slice(5), options);
        else this.local.closeConnection(target.slice(11), options);
        return;
      }
      case 'ack':
        this.acks.resolve(envelope.q);
        return;
      case 'res':
        if (envelope.d !== undefined) {
          this.results.fail(
            envelope.c,
            envelope.i,
            envelope.d === 'disc'
              ? ClientResultTracker.disconnected(envelope.c)
              : ClientResultTracker.doesNotExist(envelope.c),
          );
          return;
        }
        this.results.complete(envelope.c, {
          type: MessageType.Completion,
          invocationId: envelope.i,
          error: envelope.e,
          hasResult: envelope.h ?? false,
          result: envelope.v,
        } as CompletionMessage);
    }
  }

  private deliverMessage(target: string, envelope: MessageEnvelope): void {
    const message = deserializeMessage(envelope, this.byName);
    const excluded = envelope.x && envelope.x.length > 0 ? new Set(envelope.x) : undefined;
    if (target === 'all') this.local.writeAll(message, excluded);
    else if (target.startsWith('group:'))
      this.local.writeGroups(envelope.g ?? [target.slice(6)], message, excluded);
    else if (target.startsWith('user:')) this.local.writeUser(target.slice(5), message);
    else if (target.startsWith('connection:')) {
      const id = target.slice(11);
      if (envelope.i !== undefined && envelope.r !== undefined) {
        if (!this.local.has(id)) {
          this.publish(this.inbox(envelope.r), { k: 'res', c: id, i: envelope.i, d: 'gone' });
          return;
        }
        this.remoteInvocations.add(id, envelope.i, envelope.r);
      }
      this.local.writeConnection(id, message);
    }
  }

  /** Serializes for every protocol and publishes; nothing when no protocol could serialize it. */
  private publishMessage(
    channel: string,
    message: SerializedHubMessage,
    extra: Partial<MessageEnvelope>,
  ): void {
    const payload = this.messageEnvelope(message, extra);
    if (payload) void this.bus.publish(channel, payload);
  }

  private messageEnvelope(
    message: SerializedHubMessage,
    extra: Partial<MessageEnvelope>,
  ): Buffer | undefined {
    return serializeMessage(this.nodeId, ++this.sequence, this.protocols, message, extra);
  }

  private publish(channel: string, body: DistributiveOmit<Envelope, 'o' | 'n'>): Promise<number | undefined> {
    return this.bus.publish(
      channel,
      encodeEnvelope({ o: this.nodeId, n: ++this.sequence, ...body } as Envelope),
    );
  }

  private channel(name: string): string {
    return this.base + name;
  }

  private inbox(nodeId: string): string {
    return this.channel(`node:${nodeId}`);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function invocation(method: string, args: readonly unknown[]): SerializedHubMessage {
  return new SerializedHubMessage({
    type: MessageType.Invocation,
    target: method,
    arguments: args as unknown[],
  });
}

function rethrow(message: SerializedHubMessage): void {
  const error = message.serializationError;
  if (error !== undefined) throw error;
}
