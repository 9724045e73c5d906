/**
 * The scale-out {@link HubLifetimeManager}: one per hub per node, over a backend's {@link Bus}.
 * Every backplane (Redis, PostgreSQL, NATS, the in-memory loopback) runs this one class.
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
import { ClientResultTracker } from '../lifetime/client-result-tracker.js';
import { PendingAcks, RemoteInvocations } from '../lifetime/cluster-waits.js';
import type {
  ClientInvocationOptions,
  CloseConnectionOptions,
  HubConnectionRef,
  HubLifetimeManager,
} from '../lifetime/hub-lifetime-manager.js';
import { LocalConnections } from '../lifetime/local-connections.js';
import { SerializedHubMessage } from '../lifetime/serialized-hub-message.js';
import type { Logger } from '../logger.js';
import { activeTraceparent, traceDelivery } from '../telemetry/tracing.js';
import type { HubBackplaneHealth, ScaleoutCounters } from './backplane.js';
import type { Bus, BusFactory } from './bus.js';
import { ChannelSequencer, label } from './channel-sequencer.js';
import {
  ALL_CHANNEL,
  type Channel,
  connectionChannel,
  groupChannel,
  nodeChannel,
  userChannel,
} from './channels.js';
import {
  ENVELOPE_VERSION,
  type Envelope,
  type EnvelopeBody,
  encodeEnvelope,
  envelopeMessage,
  type MessageEnvelope,
  messageFrames,
} from './envelope.js';
import { BackplaneError } from './errors.js';

/** Options of a {@link ScaleoutHubLifetimeManager}. */
export interface ScaleoutHubLifetimeManagerOptions {
  /** Builds the hub's bus (the backend's transport). */
  readonly bus: BusFactory;
  /** This node's id, unique in the cluster. Default: a random UUID. */
  readonly nodeId?: string;
  /** The hub's name (its path): hubs never see each other's traffic. Default `hub`. */
  readonly hubName?: string;
  /** How long a remote group change waits for the owning node. Default 5 000 ms. */
  readonly ackTimeoutMs?: number;
  /**
   * Every protocol the cluster's clients may use: each send is serialized once for each and the
   * bytes travel to the other nodes. Default JSON and MessagePack.
   */
  readonly protocols?: readonly HubProtocol[];
  /** Receives every backplane error. Default: none (counted, and logged through `logger`). */
  readonly onError?: (error: BackplaneError) => void;
  /**
   * Logs every backplane error as `backplane.error` (`code`, `message`, `backend`, `nodeId`,
   * `hubName`): at `error` level for a loss (replay gap, queue overflow, log reset, unknown
   * envelope version), else `warn`. Default: silent.
   */
  readonly logger?: Logger;
  /**
   * Test hook: runs before the node subscribes to a new connection's channels, and the
   * subscription waits for it (tests widen the handshake window with it). Default: none.
   */
  readonly beforeConnectionSubscribe?: (connectionId: string) => Promise<void>;
}

/**
 * A {@link HubLifetimeManager} across nodes over a {@link Bus} (docs/scale-out.md).
 *
 * Delivery: local recipients are written first and never wait for the backend. Every send is then
 * one envelope published on its channel: `all`, `group`, `user`, `connection` (subscribed by the
 * owning node) and `node` (a node's inbox: acknowledgements and client results). A node
 * subscribes only to the channels its connections need (counted by reference), skips its own echo,
 * drops what it has delivered, and, when the backend keeps a replay log, replays a gap before
 * delivering further and catches up after any reconnect. Within the backend's replay window
 * nothing is lost and nothing arrives twice; beyond it the loss is counted (`counters.lost`) and
 * reported (`SB_ERR_BACKPLANE_REPLAY_GAP`).
 *
 * Order: the sends of one node to one channel arrive in the order they were made.
 *
 * Remote group changes are commands on the connection's channel: they resolve once the owning
 * node acknowledges, at once when no node holds the connection, and reject with
 * `SB_ERR_BACKPLANE_ACK_TIMEOUT` after `ackTimeoutMs`.
 *
 * Client results: the caller's node keeps the pending result; the owning node writes the
 * Invocation and forwards the client's Completion to the caller's inbox (or `disconnected`).
 *
 * Faults: backend errors go to `onError`, the logger and the counters, never to a send.
 */
export class ScaleoutHubLifetimeManager implements HubLifetimeManager {
  /** This node's id. */
  readonly nodeId: string;
  /** The hub's name. */
  readonly hubName: string;
  private readonly bus: Bus;
  private readonly sequencer: ChannelSequencer;
  private readonly local = new LocalConnections();
  private readonly results = new ClientResultTracker();
  private readonly acks: PendingAcks;
  /** Invocations of callers on other nodes to this node's connections. */
  private readonly remoteInvocations = new RemoteInvocations();
  private readonly protocols: readonly HubProtocol[];
  private readonly byName: Map<string, HubProtocol>;
  private readonly ackTimeoutMs: number;
  private readonly beforeConnectionSubscribe: ((connectionId: string) => Promise<void>) | undefined;
  /**
   * Numbers envelopes, requests and invocation ids. It starts from the clock (in microseconds), so
   * that a node restarted under the same id does not reuse numbers the others remember as seen.
   */
  private sequence = Date.now() * 1_000;
  private readonly started: Promise<void>;
  private closed = false;

  constructor(options: ScaleoutHubLifetimeManagerOptions) {
    this.nodeId = options.nodeId ?? randomUUID();
    this.hubName = options.hubName ?? 'hub';
    this.protocols = options.protocols ?? [jsonHubProtocol, messagePackHubProtocol];
    this.byName = new Map(this.protocols.map((p) => [p.name, p]));
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
    this.beforeConnectionSubscribe = options.beforeConnectionSubscribe;
    const hubName = this.hubName;
    this.sequencer = new ChannelSequencer({
      nodeId: this.nodeId,
      handler: (channel, envelope) => this.onEnvelope(channel, envelope),
      onError: (error) => {
        const fields = {
          code: error.code,
          message: error.message,
          backend: error.backend,
          nodeId: this.nodeId,
          hubName,
        };
        if (error.lossy) options.logger?.error('backplane.error', fields);
        else options.logger?.warn('backplane.error', fields);
        options.onError?.(error);
      },
    });
    this.bus = options.bus({ hubName, nodeId: this.nodeId, receiver: this.sequencer });
    this.sequencer.attach(this.bus);
    this.acks = new PendingAcks(
      (connectionId) =>
        new BackplaneError(
          'SB_ERR_BACKPLANE_ACK_TIMEOUT',
          `Timed out waiting for node acknowledgement of the group change of connection '${connectionId}'.`,
          { backend: this.bus.backend },
        ),
    );
    this.started = Promise.all([
      this.sequencer.subscribe(ALL_CHANNEL),
      this.sequencer.subscribe(nodeChannel(this.nodeId)),
    ]).then(() => {});
  }

  /** The backend's name. */
  get backend(): string {
    return this.bus.backend;
  }

  /** This node's counters for this hub. */
  get counters(): ScaleoutCounters {
    const bus = this.bus.counters;
    const own = this.sequencer.counters;
    return {
      ...bus,
      ...own,
      errors: bus.errors + own.errors,
      // A bus without a replay log catches up by itself and counts it; the core counts its reads.
      replayed: own.replayed + (bus.replayed ?? 0),
      subscribedChannels: this.sequencer.subscribedChannels,
    };
  }

  /** Whether the bus is up (while not, sends queue and catch-ups wait). */
  get connected(): boolean {
    return this.bus.status().connected;
  }

  /** How many client results this node waits for. */
  get pendingClientResults(): number {
    return this.results.size;
  }

  /** The hub's part of the backplane's health. */
  health(): HubBackplaneHealth {
    const status = this.bus.status();
    return { connected: status.connected, queued: status.queued, counters: this.counters };
  }

  /**
   * Resolves once the bus is up and the node's channels are subscribed and positioned (or after
   * `timeoutMs`).
   */
  async ready(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.started;
    await this.bus.ready(Math.max(0, deadline - Date.now()));
    while (!this.sequencer.settled && Date.now() < deadline && !this.closed)
      await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Resolves once everything this node sent so far has been written to the backend. */
  flush(): Promise<void> {
    return this.bus.flush();
  }

  /** Closes the bus; waiting group changes and client results reject with SB_ERR_BACKPLANE_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new BackplaneError(
      'SB_ERR_BACKPLANE_CLOSED',
      `${label(this.bus.backend)}: the lifetime manager of hub '${this.hubName}' was closed.`,
      { backend: this.bus.backend },
    );
    this.acks.failAll(error);
    this.results.failAll(error);
    await this.bus.close();
    this.sequencer.close();
  }

  async onConnected(connection: HubConnectionRef): Promise<void> {
    const entry = this.local.add(connection);
    if (this.beforeConnectionSubscribe) await this.beforeConnectionSubscribe(connection.connectionId);
    const subscriptions = [this.sequencer.subscribe(connectionChannel(connection.connectionId))];
    if (entry.userId !== undefined) subscriptions.push(this.sequencer.subscribe(userChannel(entry.userId)));
    await Promise.all(subscriptions);
  }

  async onDisconnected(connection: HubConnectionRef): Promise<void> {
    const entry = this.local.remove(connection);
    if (!entry) return;
    const id = connection.connectionId;
    this.results.failConnection(id);
    for (const [invocationId, caller] of this.remoteInvocations.takeConnection(id)) {
      this.publish(nodeChannel(caller), { k: 'res', c: id, i: invocationId, d: 'disc' });
    }
    const channels: Channel[] = [...entry.groups].map((g) => groupChannel(g));
    channels.push(connectionChannel(id));
    if (entry.userId !== undefined) channels.push(userChannel(entry.userId));
    await Promise.all(channels.map((c) => this.sequencer.unsubscribe(c)));
  }

  async sendAll(method: string, args: readonly unknown[]): Promise<void> {
    const message = invocation(method, args);
    this.local.writeAll(message, undefined);
    this.publishMessage(ALL_CHANNEL, message, {});
    rethrow(message);
  }

  async sendAllExcept(method: string, args: readonly unknown[], excluded: readonly string[]): Promise<void> {
    const message = invocation(method, args);
    this.local.writeAll(message, new Set(excluded));
    this.publishMessage(ALL_CHANNEL, message, { x: [...excluded] });
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
      this.publishMessage(connectionChannel(id), message, {});
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
    if (payload) for (const g of groups) void this.bus.publish(groupChannel(g), payload);
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
    this.publishMessage(groupChannel(groupName), message, excluded.length > 0 ? { x: [...excluded] } : {});
    rethrow(message);
  }

  async sendUser(userId: string, method: string, args: readonly unknown[]): Promise<void> {
    await this.sendUsers([userId], method, args);
  }

  async sendUsers(userIds: readonly string[], method: string, args: readonly unknown[]): Promise<void> {
    const message = invocation(method, args);
    for (const userId of new Set(userIds)) {
      this.local.writeUser(userId, message);
      this.publishMessage(userChannel(userId), message, {});
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
    void this.bus.publish(connectionChannel(connectionId), payload).then((receivers) => {
      if (receivers === 0)
        this.results.fail(connectionId, invocationId, ClientResultTracker.doesNotExist(connectionId));
    });
    return result;
  }

  async setConnectionResult(connectionId: string, completion: CompletionMessage): Promise<void> {
    if (this.results.complete(connectionId, completion)) return;
    const caller = this.remoteInvocations.take(connectionId, completion.invocationId);
    if (caller === undefined) return; // late, unknown or settled: ignored
    this.publish(nodeChannel(caller), {
      k: 'res',
      c: connectionId,
      i: completion.invocationId,
      e: completion.error,
      h: completion.hasResult,
      rv: completion.hasResult ? completion.result : undefined,
    });
  }

  async closeConnection(connectionId: string, options: CloseConnectionOptions = {}): Promise<void> {
    if (this.local.closeConnection(connectionId, options)) return;
    this.publish(connectionChannel(connectionId), {
      k: 'close',
      reason: options.reason,
      ar: options.allowReconnect,
    });
  }

  async closeUser(userId: string, options: CloseConnectionOptions = {}): Promise<void> {
    this.local.closeUser(userId, options);
    this.publish(userChannel(userId), { k: 'close', reason: options.reason, ar: options.allowReconnect });
  }

  private async addLocal(connectionId: string, groupName: string): Promise<void> {
    if (this.local.addToGroup(connectionId, groupName))
      await this.sequencer.subscribe(groupChannel(groupName));
  }

  private async removeLocal(connectionId: string, groupName: string): Promise<void> {
    if (this.local.removeFromGroup(connectionId, groupName))
      await this.sequencer.unsubscribe(groupChannel(groupName));
  }

  private async remoteGroupChange(kind: 'ga' | 'gr', connectionId: string, groupName: string): Promise<void> {
    const q = ++this.sequence;
    const acknowledged = this.acks.wait(q, connectionId, this.ackTimeoutMs);
    const receivers = await this.publish(connectionChannel(connectionId), {
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
  private onEnvelope(channel: Channel, envelope: Envelope): void {
    switch (envelope.k) {
      case 'm':
        this.deliverMessage(channel, envelope);
        return;
      case 'ga':
      case 'gr': {
        const change =
          envelope.k === 'ga'
            ? this.addLocal(envelope.c, envelope.g)
            : this.removeLocal(envelope.c, envelope.g);
        void change.then(() => this.publish(nodeChannel(envelope.r), { k: 'ack', q: envelope.q }));
        return;
      }
      case 'close': {
        const options = { reason: envelope.reason, allowReconnect: envelope.ar };
        if (channel.kind === 'user') this.local.closeUser(channel.id, options);
        else if (channel.kind === 'connection') this.local.closeConnection(channel.id, options);
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
          result: envelope.rv,
        } as CompletionMessage);
    }
  }

  private deliverMessage(channel: Channel, envelope: MessageEnvelope): void {
    if (envelope.tp === undefined) {
      this.deliverLocally(channel, envelope);
      return;
    }
    traceDelivery(
      envelope.tp,
      this.hubName,
      envelope.t,
      {
        'switchboard.backplane': this.bus.backend,
        'switchboard.node.id': this.nodeId,
        'switchboard.origin.node.id': envelope.o,
        'switchboard.channel.kind': channel.kind,
      },
      () => this.deliverLocally(channel, envelope),
    );
  }

  private deliverLocally(channel: Channel, envelope: MessageEnvelope): void {
    const message = envelopeMessage(envelope, this.byName);
    const excluded = envelope.x && envelope.x.length > 0 ? new Set(envelope.x) : undefined;
    switch (channel.kind) {
      case 'all':
        this.local.writeAll(message, excluded);
        return;
      case 'group':
        this.local.writeGroups(envelope.g ?? [channel.name], message, excluded);
        return;
      case 'user':
        this.local.writeUser(channel.id, message);
        return;
      case 'connection': {
        const id = channel.id;
        if (envelope.i !== undefined && envelope.r !== undefined) {
          if (!this.local.has(id)) {
            this.publish(nodeChannel(envelope.r), { k: 'res', c: id, i: envelope.i, d: 'gone' });
            return;
          }
          this.remoteInvocations.add(id, envelope.i, envelope.r);
        }
        this.local.writeConnection(id, message);
        return;
      }
      case 'node':
        return; // messages never go to an inbox
    }
  }

  /** Serializes for every protocol and publishes; nothing when no protocol could serialize it. */
  private publishMessage(
    channel: Channel,
    message: SerializedHubMessage,
    extra: Pick<MessageEnvelope, 'x'>,
  ): void {
    const payload = this.messageEnvelope(message, extra);
    if (payload) void this.bus.publish(channel, payload, extra.x ? { excluded: extra.x } : undefined);
  }

  private messageEnvelope(
    message: SerializedHubMessage,
    extra: Partial<Pick<MessageEnvelope, 'x' | 'g' | 'i' | 'r'>>,
  ): Buffer | undefined {
    const frames = messageFrames(this.protocols, message);
    if (!frames) return undefined;
    const tp = activeTraceparent();
    return encodeEnvelope({
      ...extra,
      ...(tp !== undefined ? { tp } : {}),
      v: ENVELOPE_VERSION,
      o: this.nodeId,
      n: ++this.sequence,
      k: 'm',
      ...frames,
    });
  }

  private publish(channel: Channel, body: EnvelopeBody): Promise<number | undefined> {
    return this.bus.publish(
      channel,
      encodeEnvelope({ v: ENVELOPE_VERSION, o: this.nodeId, n: ++this.sequence, ...body } as Envelope),
    );
  }
}

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
