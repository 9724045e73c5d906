/**
 * The objects hub code sends through: `clients.all`, `clients.group(name)` and the rest, each a
 * {@link ClientProxy}. They hold a target and forward to the hub's lifetime manager.
 * @module
 */
import type { HubLifetimeManager } from '../lifetime/hub-lifetime-manager.js';

/**
 * Client methods when no interface is given: any name, any arguments.
 */
export type DynamicClientMethods = Record<string, (...args: unknown[]) => unknown>;

/** The argument list of client method `K` of interface `T`. */
export type ClientMethodArgs<T, K extends keyof T> = T[K] extends (...args: infer P) => unknown ? P : never;

/**
 * Sends invocations to one or many clients. With a client interface `T`, method names and
 * arguments are checked by the compiler.
 *
 * @example
 * ```ts
 * interface ChatClient { messageReceived(message: Message): void }
 * class ChatHub extends Hub<ChatClient> {
 *   async post(message: Message) {
 *     await this.clients.group(message.roomId).send('messageReceived', message);
 *   }
 * }
 * ```
 */
export interface ClientProxy<T extends object = DynamicClientMethods> {
  /**
   * Invokes `method` on every target client without waiting for an answer. Resolves once the
   * message is queued for each target; never rejects because a recipient failed.
   */
  send<K extends keyof T & string>(method: K, ...args: ClientMethodArgs<T, K>): Promise<void>;
}

/** Where a proxy sends. */
type Target =
  | { kind: 'all' }
  | { kind: 'allExcept'; excluded: readonly string[] }
  | { kind: 'connection'; id: string }
  | { kind: 'connections'; ids: readonly string[] }
  | { kind: 'group'; name: string }
  | { kind: 'groups'; names: readonly string[] }
  | { kind: 'groupExcept'; name: string; excluded: readonly string[] }
  | { kind: 'user'; id: string }
  | { kind: 'users'; ids: readonly string[] };

/** A {@link ClientProxy} bound to one target. */
export class TargetedClientProxy<T extends object = DynamicClientMethods> implements ClientProxy<T> {
  constructor(
    private readonly manager: HubLifetimeManager,
    private readonly target: Target,
  ) {}

  send<K extends keyof T & string>(method: K, ...args: ClientMethodArgs<T, K>): Promise<void> {
    const m = this.manager;
    const t = this.target;
    switch (t.kind) {
      case 'all':
        return m.sendAll(method, args);
      case 'allExcept':
        return m.sendAllExcept(method, args, t.excluded);
      case 'connection':
        return m.sendConnection(t.id, method, args);
      case 'connections':
        return m.sendConnections(t.ids, method, args);
      case 'group':
        return m.sendGroup(t.name, method, args);
      case 'groups':
        return m.sendGroups(t.names, method, args);
      case 'groupExcept':
        return m.sendGroupExcept(t.name, method, args, t.excluded);
      case 'user':
        return m.sendUser(t.id, method, args);
      case 'users':
        return m.sendUsers(t.ids, method, args);
    }
  }
}

/**
 * Every way to address clients from anywhere (a hub method, an HTTP route, a timer).
 */
export interface HubClients<T extends object = DynamicClientMethods> {
  /** Every connection of the hub, on every node. */
  readonly all: ClientProxy<T>;
  /** Every connection except the listed ids. */
  allExcept(excludedConnectionIds: readonly string[]): ClientProxy<T>;
  /** One connection. */
  client(connectionId: string): ClientProxy<T>;
  /** Several connections. */
  clients(connectionIds: readonly string[]): ClientProxy<T>;
  /** The members of a group. */
  group(groupName: string): ClientProxy<T>;
  /** The members of any of several groups, once each. */
  groups(groupNames: readonly string[]): ClientProxy<T>;
  /** The members of a group except the listed ids. */
  groupExcept(groupName: string, excludedConnectionIds: readonly string[]): ClientProxy<T>;
  /** Every connection (device, tab) of a user. */
  user(userId: string): ClientProxy<T>;
  /** Every connection of several users, once each. */
  users(userIds: readonly string[]): ClientProxy<T>;
}

/** {@link HubClients} plus the targets relative to the calling connection. */
export interface HubCallerClients<T extends object = DynamicClientMethods> extends HubClients<T> {
  /** The calling connection. */
  readonly caller: ClientProxy<T>;
  /** Every connection but the caller. */
  readonly others: ClientProxy<T>;
  /** The members of a group but the caller. */
  othersInGroup(groupName: string): ClientProxy<T>;
}

/** The {@link HubClients} of a hub. */
export class DefaultHubClients<T extends object = DynamicClientMethods> implements HubClients<T> {
  readonly all: ClientProxy<T>;

  constructor(protected readonly manager: HubLifetimeManager) {
    this.all = new TargetedClientProxy<T>(manager, { kind: 'all' });
  }
  allExcept(excluded: readonly string[]): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, { kind: 'allExcept', excluded });
  }
  client(id: string): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, { kind: 'connection', id });
  }
  clients(ids: readonly string[]): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, { kind: 'connections', ids });
  }
  group(name: string): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, { kind: 'group', name });
  }
  groups(names: readonly string[]): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, { kind: 'groups', names });
  }
  groupExcept(name: string, excluded: readonly string[]): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, { kind: 'groupExcept', name, excluded });
  }
  user(id: string): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, { kind: 'user', id });
  }
  users(ids: readonly string[]): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, { kind: 'users', ids });
  }
}

/** The {@link HubCallerClients} of one calling connection. */
export class DefaultHubCallerClients<T extends object = DynamicClientMethods>
  extends DefaultHubClients<T>
  implements HubCallerClients<T>
{
  constructor(
    manager: HubLifetimeManager,
    private readonly connectionId: string,
  ) {
    super(manager);
  }
  get caller(): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, { kind: 'connection', id: this.connectionId });
  }
  get others(): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, { kind: 'allExcept', excluded: [this.connectionId] });
  }
  othersInGroup(name: string): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, {
      kind: 'groupExcept',
      name,
      excluded: [this.connectionId],
    });
  }
}

/** Adds connections to groups and removes them (ASP.NET's IGroupManager). */
export interface GroupManager {
  /** Adds a connection (on any node) to a group. */
  add(connectionId: string, groupName: string): Promise<void>;
  /** Removes a connection (on any node) from a group. */
  remove(connectionId: string, groupName: string): Promise<void>;
}

/** The {@link GroupManager} of a hub. */
export class DefaultGroupManager implements GroupManager {
  constructor(private readonly manager: HubLifetimeManager) {}
  add(connectionId: string, groupName: string): Promise<void> {
    return this.manager.addToGroup(connectionId, groupName);
  }
  remove(connectionId: string, groupName: string): Promise<void> {
    return this.manager.removeFromGroup(connectionId, groupName);
  }
}
