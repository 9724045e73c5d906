/**
 * The PostgreSQL backplane's {@link HubLifetimeManager}: one instance per hub per node, all nodes
 * of a cluster on one database and one schema.
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
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
import pg from 'pg';
import {
  decodeCompletion,
  deserializeMessage,
  type Envelope,
  encodeCompletion,
  encodeEnvelope,
  type MessageEnvelope,
  serializeMessage,
} from './envelope.js';
import { PostgresBackplaneError } from './errors.js';
import { loadSqlFiles, migrate, quoteIdent, schemaFromPrefix, sqlDir } from './migrations.js';
import { type BusRow, PostgresBus } from './postgres-bus.js';
import type {
  PostgresBackplaneCounters,
  PostgresHubLifetimeManagerOptions,
} from './postgres-hub-lifetime-manager-options.js';

/**
 * A {@link HubLifetimeManager} across nodes on PostgreSQL (docs/scale-out.md).
 *
 * Delivery: local recipients are written first and never wait for PostgreSQL. Every send is then
 * a row of `<schema>.bus_messages`, whose id is the log order: ids are taken under one advisory
 * lock held until commit, so rows commit in id order and a reader never sees id n before id n-1.
 * `NOTIFY` only wakes the readers; each node reads `id > last` for the channels it needs: `a`
 * (all), `g:<group>` and `u:<user>` of its connections (counted by reference), and `n:<node>`,
 * its inbox, which gets the sends to one of its connections (the route table
 * `bus_connections` says which node holds which connection), acknowledgements, client results
 * and closes. After the LISTEN connection comes back, a node reads on from its last id (nothing
 * lost, nothing twice). Rows leave the log after `maxAgeMs` or beyond `maxRows`; a node that had
 * not read them counts and reports the loss (`SB_ERR_BACKPLANE_PG_REPLAY_GAP`).
 *
 * Order: the sends of one node arrive in the order they were made (one writer per node and hub).
 *
 * Remote group changes resolve once the owning node acknowledges, at once when no node holds the
 * connection, and reject with `SB_ERR_BACKPLANE_PG_ACK_TIMEOUT` after `ackTimeoutMs`.
 *
 * Faults: PostgreSQL errors go to `onError`, the logger and the counters, never to a send. While
 * PostgreSQL is unreachable, sends serve local recipients and wait in a bounded queue.
 *
 * @example
 * ```ts
 * const hubs = new HubServer({
 *   lifetimeManagerFactory: (path) =>
 *     new PostgresHubLifetimeManager({ pg: process.env.DATABASE_URL, hubName: path, prefix: 'chat:' }),
 * });
 * ```
 */
export class PostgresHubLifetimeManager implements HubLifetimeManager {
  /** This node's id. */
  readonly nodeId: string;
  /** The schema of the cluster's tables. */
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly bus: PostgresBus;
  private readonly local = new LocalConnections();
  private readonly results = new ClientResultTracker();
  private readonly acks = new PendingAcks(
    (connectionId) =>
      new PostgresBackplaneError(
        'SB_ERR_BACKPLANE_PG_ACK_TIMEOUT',
        `Timed out waiting for node acknowledgement of the group change of connection '${connectionId}'.`,
      ),
  );
  private readonly remoteInvocations = new RemoteInvocations();
  private readonly protocols: readonly HubProtocol[];
  private readonly byName: Map<string, HubProtocol>;
  private readonly ackTimeoutMs: number;
  private readonly hubName: string;
  private readonly nodeLeaseMs: number;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly onError: (error: PostgresBackplaneError) => void;
  /** Numbers envelopes and requests; from the clock, so a restarted node does not reuse numbers. */
  private sequence = Date.now() * 1_000;
  private readonly started: Promise<void>;
  private closed = false;

  constructor(options: PostgresHubLifetimeManagerOptions = {}) {
    this.nodeId = options.nodeId ?? randomUUID();
    const hubName = options.hubName ?? 'hub';
    this.hubName = hubName;
    this.schema = options.schema ?? schemaFromPrefix(options.prefix ?? 'switchboard:');
    this.protocols = options.protocols ?? [jsonHubProtocol, messagePackHubProtocol];
    this.byName = new Map(this.protocols.map((p) => [p.name, p]));
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
    this.nodeLeaseMs = options.nodeLeaseMs ?? 15_000;
    const applicationName = Buffer.from(options.applicationName ?? `switchboard:${this.nodeId}`)
      .subarray(0, 63)
      .toString();
    const base: pg.PoolConfig = {
      connectionTimeoutMillis: 5_000,
      // Idle connections stay open: a send goes out at once instead of waiting for a new one.
      idleTimeoutMillis: 0,
      ...(typeof options.pg === 'string' ? { connectionString: options.pg } : options.pg),
    };
    this.pool = new pg.Pool({ max: options.poolSize ?? 2, ...base, application_name: applicationName });
    const listen: pg.ClientConfig =
      options.listen === undefined
        ? base
        : typeof options.listen === 'string'
          ? { connectionTimeoutMillis: 5_000, connectionString: options.listen }
          : { connectionTimeoutMillis: 5_000, ...options.listen };
    const onError = (error: PostgresBackplaneError) => {
      const lossy =
        error.code === 'SB_ERR_BACKPLANE_PG_REPLAY_GAP' ||
        error.code === 'SB_ERR_BACKPLANE_PG_QUEUE_OVERFLOW';
      const fields = { code: error.code, message: error.message, nodeId: this.nodeId, hubName };
      if (lossy) options.logger?.error('backplane.error', fields);
      else options.logger?.warn('backplane.error', fields);
      options.onError?.(error);
    };
    this.onError = onError;
    // An idle pooled connection that is cut emits here; the pool replaces it on the next query.
    this.pool.on('error', (error) =>
      onError(new PostgresBackplaneError('SB_ERR_BACKPLANE_PG', `pooled connection lost: ${error.message}`)),
    );
    this.bus = new PostgresBus({
      pool: this.pool,
      listen: { ...listen, application_name: applicationName },
      schema: this.schema,
      notifyChannel: `switchboard_bus_${createHash('sha1').update(this.schema).digest('hex').slice(0, 12)}`,
      hub: hubName,
      nodeId: this.nodeId,
      maxAgeMs: options.maxAgeMs ?? 60_000,
      maxRows: options.maxRows ?? 100_000,
      maxQueuedPublishes: options.maxQueuedPublishes ?? 10_000,
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      trimIntervalMs: options.trimIntervalMs ?? 5_000,
      onError,
      handler: (row, envelope) => this.onEnvelope(row, envelope),
    });
    this.bus.subscribe('a');
    this.bus.subscribe(`n:${this.nodeId}`);
    this.started = this.start(hubName, onError);
  }

  /** This node's counters. */
  get counters(): PostgresBackplaneCounters {
    return {
      ...this.bus.counters,
      subscribedChannels: this.bus.subscribedChannels,
      queueLength: this.bus.queueLength,
    };
  }

  /** Whether the LISTEN connection is up and writes go through. */
  get connected(): boolean {
    return this.bus.connected;
  }

  /** How many client results this node waits for. */
  get pendingClientResults(): number {
    return this.results.size;
  }

  /**
   * Resolves once the schema is migrated, and the LISTEN connection holds (or after `timeoutMs`;
   * the node keeps trying in the background).
   */
  async ready(timeoutMs = 10_000): Promise<void> {
    await this.started;
    await this.bus.listening(timeoutMs);
  }

  /** Resolves once everything this node sent so far has been written to PostgreSQL. */
  flush(): Promise<void> {
    return this.bus.idle();
  }

  /** Reads and delivers every row committed so far on this node's channels. */
  catchUp(): Promise<void> {
    return this.bus.catchUp();
  }

  /**
   * Closes the connections after removing this node's routes; waiting group changes and client
   * results reject with SB_ERR_BACKPLANE_PG_CLOSED.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new PostgresBackplaneError(
      'SB_ERR_BACKPLANE_PG_CLOSED',
      'The lifetime manager was closed.',
    );
    this.acks.failAll(error);
    this.results.failAll(error);
    await this.started;
    clearInterval(this.heartbeat);
    await this.bus.close();
    await this.forgetRoutes(true).catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  async onConnected(connection: HubConnectionRef): Promise<void> {
    // A node reads from where the log stood when it first listened: a connection that came
    // earlier would miss what was sent to it meanwhile. (Bounded: during an outage at start the
    // connection is served locally and reads once the node listens.)
    if (!this.closed) await this.ready(this.ackTimeoutMs);
    const entry = this.local.add(connection);
    if (entry.userId !== undefined) await this.positioned(this.bus.subscribe(`u:${entry.userId}`));
    const route = this.bus.publish(`+c:${connection.connectionId}`, EMPTY);
    // Once written, a send from any node finds the connection; while PostgreSQL is away the
    // route waits in the queue and the connection is served locally meanwhile.
    if (this.bus.writable) await route;
  }

  async onDisconnected(connection: HubConnectionRef): Promise<void> {
    const entry = this.local.remove(connection);
    if (!entry) return;
    const id = connection.connectionId;
    this.results.failConnection(id);
    for (const [invocationId, caller] of this.remoteInvocations.takeConnection(id)) {
      this.publish(`n:${caller}`, { k: 'res', c: id, i: invocationId, d: 'disc' });
    }
    for (const group of entry.groups) this.bus.unsubscribe(`g:${group}`);
    if (entry.userId !== undefined) this.bus.unsubscribe(`u:${entry.userId}`);
    void this.bus.publish(`-c:${id}`, EMPTY);
  }

  async sendAll(method: string, args: readonly unknown[]): Promise<void> {
    const message = invocation(method, args);
    this.local.writeAll(message, undefined);
    this.publishMessage('a', message, {});
    rethrow(message);
  }

  async sendAllExcept(method: string, args: readonly unknown[], excluded: readonly string[]): Promise<void> {
    const message = invocation(method, args);
    this.local.writeAll(message, new Set(excluded));
    this.publishMessage('a', message, {}, excluded);
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
      this.publishMessage(`c:${id}`, message, {});
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
    // One envelope (one number) on every group's channel: a node with members of several delivers once.
    const payload = this.messageEnvelope(message, { g: groups });
    if (payload) for (const g of groups) void this.bus.publish(`g:${g}`, payload);
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
    this.publishMessage(`g:${groupName}`, message, {}, excluded);
    rethrow(message);
  }

  async sendUser(userId: string, method: string, args: readonly unknown[]): Promise<void> {
    await this.sendUsers([userId], method, args);
  }

  async sendUsers(userIds: readonly string[], method: string, args: readonly unknown[]): Promise<void> {
    const message = invocation(method, args);
    for (const userId of new Set(userIds)) {
      this.local.writeUser(userId, message);
      this.publishMessage(`u:${userId}`, message, {});
    }
    rethrow(message);
  }

  async addToGroup(connectionId: string, groupName: string): Promise<void> {
    if (this.local.has(connectionId)) {
      if (this.local.addToGroup(connectionId, groupName))
        await this.positioned(this.bus.subscribe(`g:${groupName}`));
      return;
    }
    return this.remoteGroupChange('ga', connectionId, groupName);
  }

  async removeFromGroup(connectionId: string, groupName: string): Promise<void> {
    if (this.local.has(connectionId)) {
      if (this.local.removeFromGroup(connectionId, groupName)) this.bus.unsubscribe(`g:${groupName}`);
      return;
    }
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
    // The caller's promise is returned at once; no route, or a route to a node whose lease ran
    // out, means no node holds the connection.
    void this.bus.publish(`c:${connectionId}`, payload).then((written) => {
      if (written === 0 || written === 2)
        this.results.fail(connectionId, invocationId, ClientResultTracker.doesNotExist(connectionId));
    });
    return result;
  }

  async setConnectionResult(connectionId: string, completion: CompletionMessage): Promise<void> {
    if (this.results.complete(connectionId, completion)) return;
    const caller = this.remoteInvocations.take(connectionId, completion.invocationId);
    if (caller === undefined) return; // late, unknown or settled: ignored
    this.publish(`n:${caller}`, {
      k: 'res',
      c: connectionId,
      i: completion.invocationId,
      f: { completion: encodeCompletion(completion) },
    });
  }

  async closeConnection(connectionId: string, options: CloseConnectionOptions = {}): Promise<void> {
    if (this.local.closeConnection(connectionId, options)) return;
    this.publish(`c:${connectionId}`, { k: 'close', reason: options.reason, ar: options.allowReconnect });
  }

  async closeUser(userId: string, options: CloseConnectionOptions = {}): Promise<void> {
    this.local.closeUser(userId, options);
    this.publish(`u:${userId}`, { k: 'close', reason: options.reason, ar: options.allowReconnect });
  }

  private async start(hubName: string, onError: (error: PostgresBackplaneError) => void): Promise<void> {
    const files = await loadSqlFiles(sqlDir('bus'));
    for (let backoff = 50; !this.closed; backoff = Math.min(backoff * 2, 2_000)) {
      try {
        await migrate(this.pool, { schema: this.schema, component: 'bus', files });
        // Routes a previous run of this node left behind are stale.
        await this.forgetRoutes(false);
        await this.beat();
        break;
      } catch (error) {
        const wrapped =
          error instanceof PostgresBackplaneError
            ? error
            : new PostgresBackplaneError('SB_ERR_BACKPLANE_PG', `starting hub ${hubName}: ${String(error)}`, {
                cause: error,
              });
        onError(wrapped);
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
    }
    if (this.closed) return;
    this.heartbeat = setInterval(() => {
      this.beat().catch((error: unknown) =>
        this.onError(
          new PostgresBackplaneError('SB_ERR_BACKPLANE_PG', `renewing the node lease: ${String(error)}`, {
            cause: error,
          }),
        ),
      );
    }, this.nodeLeaseMs / 3);
    this.heartbeat.unref();
    this.bus.start();
  }

  /** Renews this node's lease. */
  private async beat(): Promise<void> {
    await this.pool.query(`SELECT ${quoteIdent(this.schema)}.bus_beat($1, $2, $3)`, [
      this.hubName,
      this.nodeId,
      this.nodeLeaseMs,
    ]);
  }

  /** Deletes this node's routes (and, when it leaves, its lease). */
  private async forgetRoutes(leaving: boolean): Promise<void> {
    const s = quoteIdent(this.schema);
    await this.pool.query(`DELETE FROM ${s}.bus_connections WHERE hub = $1 AND node_id = $2`, [
      this.hubName,
      this.nodeId,
    ]);
    if (leaving)
      await this.pool.query(`DELETE FROM ${s}.bus_nodes WHERE hub = $1 AND node_id = $2`, [
        this.hubName,
        this.nodeId,
      ]);
  }

  private async remoteGroupChange(kind: 'ga' | 'gr', connectionId: string, groupName: string): Promise<void> {
    const q = ++this.sequence;
    const acknowledged = this.acks.wait(q, connectionId, this.ackTimeoutMs);
    const written = await this.publish(`c:${connectionId}`, {
      k: kind,
      c: connectionId,
      g: groupName,
      q,
      r: this.nodeId,
    });
    // No node holds the connection (or its node is gone): nothing to change.
    if (written === 0 || written === 2) this.acks.resolve(q);
    await acknowledged;
  }

  /**
   * Waits for a joined channel's start position, at most `ackTimeoutMs`; past that reports
   * `SB_ERR_BACKPLANE_PG` and resolves (the member may then miss sends made meanwhile).
   */
  private async positioned(position: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.ackTimeoutMs);
    });
    const late = await Promise.race([position.then(() => false), timedOut]).finally(() =>
      clearTimeout(timer),
    );
    if (late)
      this.onError(
        new PostgresBackplaneError(
          'SB_ERR_BACKPLANE_PG',
          `a joined channel's start position was not set within ${this.ackTimeoutMs} ms`,
        ),
      );
  }

  /** Handles what another node sent on one of this node's channels. */
  private onEnvelope(row: BusRow, envelope: Envelope): void {
    const target = row.target;
    switch (envelope.k) {
      case 'm':
        this.deliverMessage(row, envelope);
        return;
      case 'ga':
      case 'gr': {
        // Only here: a connection that has left this node is nobody's to change.
        const ack = () => this.publish(`n:${envelope.r}`, { k: 'ack', q: envelope.q });
        if (envelope.k === 'ga') {
          // The ack goes once the group's start position is set, so a send after it arrives.
          if (this.local.addToGroup(envelope.c, envelope.g))
            void this.positioned(this.bus.subscribe(`g:${envelope.g}`)).then(ack);
          else ack();
        } else {
          if (this.local.removeFromGroup(envelope.c, envelope.g)) this.bus.unsubscribe(`g:${envelope.g}`);
          ack();
        }
        return;
      }
      case 'close': {
        const options = { reason: envelope.reason, allowReconnect: envelope.ar };
        if (target.startsWith('u:')) this.local.closeUser(target.slice(2), options);
        else if (target.startsWith('c:')) this.local.closeConnection(target.slice(2), options);
        return;
      }
      case 'ack':
        this.acks.resolve(envelope.q);
        return;
      case 'res': {
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
        const completion = envelope.f ? decodeCompletion(envelope.f.completion) : undefined;
        if (completion) this.results.complete(envelope.c, completion);
      }
    }
  }

  private deliverMessage(row: BusRow, envelope: MessageEnvelope): void {
    const message = deserializeMessage(envelope, this.byName);
    const excluded = row.excluded && row.excluded.length > 0 ? new Set(row.excluded) : undefined;
    const target = row.target;
    if (target === 'a') this.local.writeAll(message, excluded);
    else if (target.startsWith('g:'))
      this.local.writeGroups(envelope.g ?? [target.slice(2)], message, excluded);
    else if (target.startsWith('u:')) this.local.writeUser(target.slice(2), message);
    else if (target.startsWith('c:')) {
      const id = target.slice(2);
      if (envelope.i !== undefined && envelope.r !== undefined) {
        if (!this.local.has(id)) {
          this.publish(`n:${envelope.r}`, { k: 'res', c: id, i: envelope.i, d: 'gone' });
          return;
        }
        this.remoteInvocations.add(id, envelope.i, envelope.r);
      }
      this.local.writeConnection(id, message);
    }
  }

  /** Serializes for every protocol and queues the row; nothing when no protocol could serialize it. */
  private publishMessage(
    target: string,
    message: SerializedHubMessage,
    extra: Partial<MessageEnvelope>,
    excluded?: readonly string[],
  ): void {
    const payload = this.messageEnvelope(message, extra);
    if (payload)
      void this.bus.publish(target, payload, excluded && excluded.length > 0 ? excluded : undefined);
  }

  private messageEnvelope(
    message: SerializedHubMessage,
    extra: Partial<MessageEnvelope>,
  ): Buffer | undefined {
    return serializeMessage(this.nodeId, ++this.sequence, this.protocols, message, extra);
  }

  private publish(target: string, body: DistributiveOmit<Envelope, 'o' | 'n'>): Promise<number | undefined> {
    return this.bus.publish(
      target,
      encodeEnvelope({ o: this.nodeId, n: ++this.sequence, ...body } as Envelope),
    );
  }
}

const EMPTY = Buffer.alloc(0);

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
