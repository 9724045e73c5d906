import { type CompletionMessage, type InvocationMessage, MessageType } from '@switchboard/protocol';
import { ClientResultTracker } from './client-result-tracker.js';
import type {
  ClientInvocationOptions,
  CloseConnectionOptions,
  HubConnectionRef,
  HubLifetimeManager,
} from './hub-lifetime-manager.js';
import { SerializedHubMessage } from './serialized-hub-message.js';

/** What the manager keeps per connection. */
interface ConnectionEntry {
  readonly connection: HubConnectionRef;
  readonly userId: string | undefined;
  /** The groups it is in; created when it joins its first (most connections join none). */
  groups: Set<string> | undefined;
  /** The last number used for a server-to-client invocation id (`s1`, `s2`, …). */
  lastInvocationId: number;
}

/**
 * The in-memory {@link HubLifetimeManager} of one node: a connection table, a group index and a
 * user index. Every send serializes once per protocol ({@link SerializedHubMessage}) and writes the
 * same bytes to each recipient; reaching a group or a user touches only its members. Client
 * results use ids `s1`, `s2`, … per connection, as ASP.NET's single-server manager does.
 */
export class DefaultHubLifetimeManager implements HubLifetimeManager {
  private readonly connections = new Map<string, ConnectionEntry>();
  private readonly groups = new Map<string, Set<ConnectionEntry>>();
  private readonly users = new Map<string, Set<ConnectionEntry>>();
  private readonly results = new ClientResultTracker();

  /** How many client results this node waits for. */
  get pendingClientResults(): number {
    return this.results.size;
  }

  /** How many connections this node holds. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** The ids of a group's local members. */
  groupMembers(groupName: string): string[] {
    return [...(this.groups.get(groupName) ?? [])].map((e) => e.connection.connectionId);
  }

  /** The ids of a user's local connections. */
  userConnections(userId: string): string[] {
    return [...(this.users.get(userId) ?? [])].map((e) => e.connection.connectionId);
  }

  /** The groups a connection is in. */
  groupsOf(connectionId: string): string[] {
    return [...(this.connections.get(connectionId)?.groups ?? [])];
  }

  async onConnected(connection: HubConnectionRef): Promise<void> {
    const userId = connection.userIdentifier;
    const entry: ConnectionEntry = { connection, userId, groups: undefined, lastInvocationId: 0 };
    this.connections.set(connection.connectionId, entry);
    if (userId !== undefined) addTo(this.users, userId, entry);
  }

  async onDisconnected(connection: HubConnectionRef): Promise<void> {
    const entry = this.connections.get(connection.connectionId);
    if (!entry || entry.connection !== connection) return;
    this.connections.delete(connection.connectionId);
    if (entry.groups !== undefined) {
      for (const group of entry.groups) removeFrom(this.groups, group, entry);
      entry.groups.clear();
    }
    if (entry.userId !== undefined) removeFrom(this.users, entry.userId, entry);
    this.results.failConnection(connection.connectionId);
  }

  async sendAll(method: string, args: readonly unknown[]): Promise<void> {
    const message = invocation(method, args);
    for (const entry of this.connections.values()) write(entry, message);
    rethrowSerializationError(message);
  }

  async sendAllExcept(method: string, args: readonly unknown[], excluded: readonly string[]): Promise<void> {
    const message = invocation(method, args);
    const skip = new Set(excluded);
    for (const entry of this.connections.values()) {
      if (!skip.has(entry.connection.connectionId)) write(entry, message);
    }
    rethrowSerializationError(message);
  }

  async sendConnection(connectionId: string, method: string, args: readonly unknown[]): Promise<void> {
    const entry = this.connections.get(connectionId);
    if (!entry) return;
    const message = invocation(method, args);
    write(entry, message);
    rethrowSerializationError(message);
  }

  async sendConnections(
    connectionIds: readonly string[],
    method: string,
    args: readonly unknown[],
  ): Promise<void> {
    const message = invocation(method, args);
    for (const id of new Set(connectionIds)) {
      const entry = this.connections.get(id);
      if (entry) write(entry, message);
    }
    rethrowSerializationError(message);
  }

  async sendGroup(groupName: string, method: string, args: readonly unknown[]): Promise<void> {
    const members = this.groups.get(groupName);
    if (!members) return;
    const message = invocation(method, args);
    for (const entry of members) write(entry, message);
    rethrowSerializationError(message);
  }

  async sendGroups(groupNames: readonly string[], method: string, args: readonly unknown[]): Promise<void> {
    const message = invocation(method, args);
    const seen = new Set<ConnectionEntry>();
    for (const name of groupNames) {
      const members = this.groups.get(name);
      if (!members) continue;
      for (const entry of members) {
        if (seen.has(entry)) continue;
        seen.add(entry);
        write(entry, message);
      }
    }
    rethrowSerializationError(message);
  }

  async sendGroupExcept(
    groupName: string,
    method: string,
    args: readonly unknown[],
    excluded: readonly string[],
  ): Promise<void> {
    const members = this.groups.get(groupName);
    if (!members) return;
    const message = invocation(method, args);
    const skip = new Set(excluded);
    for (const entry of members) {
      if (!skip.has(entry.connection.connectionId)) write(entry, message);
    }
    rethrowSerializationError(message);
  }

  async sendUser(userId: string, method: string, args: readonly unknown[]): Promise<void> {
    const entries = this.users.get(userId);
    if (!entries) return;
    const message = invocation(method, args);
    for (const entry of entries) write(entry, message);
    rethrowSerializationError(message);
  }

  async sendUsers(userIds: readonly string[], method: string, args: readonly unknown[]): Promise<void> {
    const message = invocation(method, args);
    for (const userId of new Set(userIds)) {
      const entries = this.users.get(userId);
      if (!entries) continue;
      for (const entry of entries) write(entry, message);
    }
    rethrowSerializationError(message);
  }

  async closeConnection(connectionId: string, options?: CloseConnectionOptions): Promise<void> {
    this.connections.get(connectionId)?.connection.close(options);
  }

  async closeUser(userId: string, options?: CloseConnectionOptions): Promise<void> {
    for (const entry of [...(this.users.get(userId) ?? [])]) entry.connection.close(options);
  }

  async addToGroup(connectionId: string, groupName: string): Promise<void> {
    const entry = this.connections.get(connectionId);
    if (!entry || entry.groups?.has(groupName)) return;
    entry.groups ??= new Set();
    entry.groups.add(groupName);
    addTo(this.groups, groupName, entry);
  }

  async removeFromGroup(connectionId: string, groupName: string): Promise<void> {
    const entry = this.connections.get(connectionId);
    if (!entry || !entry.groups?.delete(groupName)) return;
    removeFrom(this.groups, groupName, entry);
  }

  invokeConnection(
    connectionId: string,
    method: string,
    args: readonly unknown[],
    options: ClientInvocationOptions = {},
  ): Promise<unknown> {
    const entry = this.connections.get(connectionId);
    if (!entry) {
      return Promise.reject(ClientResultTracker.doesNotExist(connectionId));
    }
    const invocationId = `s${++entry.lastInvocationId}`;
    const result = this.results.add(connectionId, invocationId, options);
    const message = new SerializedHubMessage({
      type: MessageType.Invocation,
      invocationId,
      target: method,
      arguments: args as unknown[],
    });
    write(entry, message);
    if (message.serializationError !== undefined) {
      this.results.fail(connectionId, invocationId, message.serializationError);
    }
    return result;
  }

  async setConnectionResult(connectionId: string, completion: CompletionMessage): Promise<void> {
    this.results.complete(connectionId, completion);
  }
}

function invocation(method: string, args: readonly unknown[]): SerializedHubMessage {
  const message: InvocationMessage = {
    type: MessageType.Invocation,
    target: method,
    arguments: args as unknown[],
  };
  return new SerializedHubMessage(message);
}

function write(entry: ConnectionEntry, message: SerializedHubMessage): void {
  try {
    entry.connection.writeMessage(message);
  } catch {
    // writeMessage never throws by contract; this guard keeps one broken connection from stopping
    // a broadcast even if an implementation gets that wrong. A message that cannot be serialized
    // is reported to the sender once the loop is done (rethrowSerializationError).
  }
}

/**
 * Rejects the send when its message could not be serialized for some protocol: the sender's
 * mistake (a BigInt, a cycle), which would otherwise vanish without a trace. Recipients on other
 * protocols have been written to.
 */
function rethrowSerializationError(message: SerializedHubMessage): void {
  const error = message.serializationError;
  if (error !== undefined) throw error;
}

function addTo<K>(index: Map<K, Set<ConnectionEntry>>, key: K, entry: ConnectionEntry): void {
  const set = index.get(key);
  if (set) set.add(entry);
  else index.set(key, new Set([entry]));
}

function removeFrom<K>(index: Map<K, Set<ConnectionEntry>>, key: K, entry: ConnectionEntry): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(entry);
  if (set.size === 0) index.delete(key);
}
