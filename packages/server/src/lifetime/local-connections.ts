/**
 * A scale-out node's own connections and its group and user indexes, with the writes of one send
 * (the same {@link SerializedHubMessage} to every local recipient, once each). The Redis and
 * PostgreSQL backplanes both keep their local side in it.
 * @module
 */
import type { CloseConnectionOptions, HubConnectionRef } from './hub-lifetime-manager.js';
import type { SerializedHubMessage } from './serialized-hub-message.js';

/** What the node keeps per local connection. */
export interface LocalEntry {
  readonly connection: HubConnectionRef;
  readonly userId: string | undefined;
  readonly groups: Set<string>;
}

/** The local connection table and indexes. */
export class LocalConnections {
  private readonly connections = new Map<string, LocalEntry>();
  private readonly groups = new Map<string, Set<LocalEntry>>();
  private readonly users = new Map<string, Set<LocalEntry>>();

  /** Whether the node holds a connection. */
  has(connectionId: string): boolean {
    return this.connections.has(connectionId);
  }

  /** Registers a connection (a reused id starts with no groups). */
  add(connection: HubConnectionRef): LocalEntry {
    const entry: LocalEntry = { connection, userId: connection.userIdentifier, groups: new Set() };
    this.connections.set(connection.connectionId, entry);
    if (entry.userId !== undefined) addTo(this.users, entry.userId, entry);
    return entry;
  }

  /** Removes a connection from everything; undefined when it is not this one (or not here). */
  remove(connection: HubConnectionRef): LocalEntry | undefined {
    const entry = this.connections.get(connection.connectionId);
    if (!entry || entry.connection !== connection) return undefined;
    this.connections.delete(connection.connectionId);
    for (const group of entry.groups) removeFrom(this.groups, group, entry);
    if (entry.userId !== undefined) removeFrom(this.users, entry.userId, entry);
    return entry;
  }

  /** Adds a local connection to a group; true when it was not a member. */
  addToGroup(connectionId: string, groupName: string): boolean {
    const entry = this.connections.get(connectionId);
    if (!entry || entry.groups.has(groupName)) return false;
    entry.groups.add(groupName);
    addTo(this.groups, groupName, entry);
    return true;
  }

  /** Removes a local connection from a group; true when it was a member. */
  removeFromGroup(connectionId: string, groupName: string): boolean {
    const entry = this.connections.get(connectionId);
    if (!entry || !entry.groups.delete(groupName)) return false;
    removeFrom(this.groups, groupName, entry);
    return true;
  }

  /** Writes to every local connection but the excluded. */
  writeAll(message: SerializedHubMessage, excluded: ReadonlySet<string> | undefined): void {
    for (const entry of this.connections.values()) {
      if (!excluded?.has(entry.connection.connectionId)) write(entry, message);
    }
  }

  /** Writes to one local connection; false when it is not here. */
  writeConnection(connectionId: string, message: SerializedHubMessage): boolean {
    const entry = this.connections.get(connectionId);
    if (!entry) return false;
    write(entry, message);
    return true;
  }

  /** Writes once to every local member of any listed group, but the excluded. */
  writeGroups(
    groupNames: readonly string[],
    message: SerializedHubMessage,
    excluded: ReadonlySet<string> | undefined,
  ): void {
    const seen = groupNames.length > 1 ? new Set<LocalEntry>() : undefined;
    for (const name of groupNames) {
      for (const entry of this.groups.get(name) ?? []) {
        if (seen) {
          if (seen.has(entry)) continue;
          seen.add(entry);
        }
        if (!excluded?.has(entry.connection.connectionId)) write(entry, message);
      }
    }
  }

  /** Writes to every local connection of a user. */
  writeUser(userId: string, message: SerializedHubMessage): void {
    for (const entry of this.users.get(userId) ?? []) write(entry, message);
  }

  /** Closes a local connection; false when it is not here. */
  closeConnection(connectionId: string, options: CloseConnectionOptions): boolean {
    const entry = this.connections.get(connectionId);
    if (!entry) return false;
    close(entry, options);
    return true;
  }

  /** Closes every local connection of a user. */
  closeUser(userId: string, options: CloseConnectionOptions): void {
    for (const entry of [...(this.users.get(userId) ?? [])]) close(entry, options);
  }
}

function write(entry: LocalEntry, message: SerializedHubMessage): void {
  try {
    entry.connection.writeMessage(message);
  } catch {
    // writeMessage never throws by contract; one broken connection must not stop a send
  }
}

function close(entry: LocalEntry, options: CloseConnectionOptions): void {
  try {
    entry.connection.close(options);
  } catch {
    // as write
  }
}

function addTo(index: Map<string, Set<LocalEntry>>, key: string, entry: LocalEntry): void {
  const set = index.get(key);
  if (set) set.add(entry);
  else index.set(key, new Set([entry]));
}

function removeFrom(index: Map<string, Set<LocalEntry>>, key: string, entry: LocalEntry): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(entry);
  if (set.size === 0) index.delete(key);
}
