/**
 * The objects hub code sends through: `clients.all`, `clients.group(name)` and the rest, each a
 * {@link ClientProxy}. They hold a target and forward to the hub's lifetime manager.
 * @module
 */

import type { HubLifetimeManager } from '../lifetime/hub-lifetime-manager.js';
import { traceClientResult } from '../telemetry/tracing.js';

/**
 * Client methods when no interface is given: any name, any arguments.
 */
export type DynamicClientMethods = Record<string, (...args: unknown[]) => unknown>;

/** The argument list of client method `K` of interface `T`. */
export type ClientMethodArgs<T, K extends keyof T> = T[K] extends (...args: infer P) => unknown ? P : never;

/** What client method `K` of interface `T` returns to a client-result call, promise unwrapped. */
export type ClientMethodResult<T, K extends keyof T> = T[K] extends (...args: never[]) => infer R
  ? Awaited<R>
  : unknown;

/** Per-call options of {@link SingleClientProxy.invokeWith}. */
export interface ClientInvokeOptions {
  /** Rejects with `SB_ERR_CLIENT_RESULT_TIMEOUT` after this long. Default: the hub's `clientResultTimeoutMs` (30,000 ms). */
  timeoutMs?: number;
  /** Stops waiting when it aborts: the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * The parallel-invocation slot of the hub method that is running (docs/protocol.md#parallel-invocations).
 * A method that waits for a client result gives its slot back meanwhile, as ASP.NET does, so that
 * a method awaiting its own caller's answer cannot deadlock the connection under the default limit
 * of one invocation at a time; it takes a slot again before it goes on.
 */
export interface InvocationSlot {
  /** Frees the slot (another invocation of the connection may start). */
  release(): void;
  /** Waits for a free slot and takes it. */
  reacquire(): Promise<void>;
}

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

/**
 * A proxy for one connection: {@link ClientProxy.send}, plus `invoke`, which waits for the value the
 * client's handler returns (a client result, docs/protocol.md#client-results).
 *
 * @example
 * ```ts
 * interface Client { confirm(question: string): boolean }
 * class Desk extends Hub<Client> {
 *   async close() {
 *     const ok = await this.clients.caller.invoke('confirm', 'Close the ticket?');
 *     // per call: await this.clients.caller.invokeWith({ timeoutMs: 5_000 }, 'confirm', '...');
 *     return ok;
 *   }
 * }
 * // client: connection.on('confirm', (question) => window.confirm(question));
 * ```
 */
export interface SingleClientProxy<T extends object = DynamicClientMethods> extends ClientProxy<T> {
  /**
   * Invokes `method` on the client and resolves with what its handler returns (null included).
   * Rejects with a `HubException` carrying the client's error text (`Error: from callback`, or
   * `Client didn't provide a result.` when it has no handler), with `SB_ERR_CLIENT_RESULT_FAILED`
   * when the connection does not exist or disconnects, and with `SB_ERR_CLIENT_RESULT_TIMEOUT`
   * after `clientResultTimeoutMs`. Inside a hub method, the method's invocation slot is free while
   * it waits.
   */
  invoke<K extends keyof T & string>(
    method: K,
    ...args: ClientMethodArgs<T, K>
  ): Promise<ClientMethodResult<T, K>>;
  /** {@link invoke} with a timeout or an abort signal of its own. */
  invokeWith<K extends keyof T & string>(
    options: ClientInvokeOptions,
    method: K,
    ...args: ClientMethodArgs<T, K>
  ): Promise<ClientMethodResult<T, K>>;
}

/** What proxies that can invoke need besides the manager. */
export interface ClientProxyOptions {
  /** The default timeout of client results (the hub's `clientResultTimeoutMs`). */
  readonly clientResultTimeoutMs?: number;
  /** The running hub method's slot, released while it awaits client results. */
  readonly slot?: InvocationSlot;
  /** The hub's name in the spans of client results (see docs/server.md, "OpenTelemetry"). */
  readonly hubName?: string;
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

/** The one "every connection" target; targets are never changed once made. */
const ALL: Target = { kind: 'all' };

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

/** A {@link SingleClientProxy} bound to one connection. */
export class ConnectionClientProxy<T extends object = DynamicClientMethods> implements SingleClientProxy<T> {
  constructor(
    private readonly manager: HubLifetimeManager,
    private readonly connectionId: string,
    private readonly options: ClientProxyOptions,
    private readonly lease: SlotLease | undefined,
  ) {}

  send<K extends keyof T & string>(method: K, ...args: ClientMethodArgs<T, K>): Promise<void> {
    return this.manager.sendConnection(this.connectionId, method, args);
  }

  invoke<K extends keyof T & string>(
    method: K,
    ...args: ClientMethodArgs<T, K>
  ): Promise<ClientMethodResult<T, K>> {
    return this.invokeWith({}, method, ...args);
  }

  async invokeWith<K extends keyof T & string>(
    options: ClientInvokeOptions,
    method: K,
    ...args: ClientMethodArgs<T, K>
  ): Promise<ClientMethodResult<T, K>> {
    const call = () =>
      traceClientResult(this.options.hubName ?? 'hub', method, this.connectionId, () =>
        this.manager.invokeConnection(this.connectionId, method, args, {
          signal: options.signal,
          timeoutMs: options.timeoutMs ?? this.options.clientResultTimeoutMs,
        }),
      );
    const result = this.lease ? await this.lease.around(call) : await call();
    return result as ClientMethodResult<T, K>;
  }
}

/**
 * Releases a hub method's slot while at least one of its client results is pending, and takes it
 * back when the last one settles (before the method sees the outcome).
 */
export class SlotLease {
  private waiting = 0;

  constructor(private readonly slot: InvocationSlot) {}

  async around<R>(work: () => Promise<R>): Promise<R> {
    if (this.waiting++ === 0) this.slot.release();
    try {
      return await work();
    } finally {
      if (--this.waiting === 0) await this.slot.reacquire();
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
  /** One connection, which can also be asked for a result ({@link SingleClientProxy.invoke}). */
  client(connectionId: string): SingleClientProxy<T>;
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
  /** The calling connection, which can also be asked for a result. */
  readonly caller: SingleClientProxy<T>;
  /** Every connection but the caller. */
  readonly others: ClientProxy<T>;
  /** The members of a group but the caller. */
  othersInGroup(groupName: string): ClientProxy<T>;
}

/** The {@link HubClients} of a hub. */
export class DefaultHubClients<T extends object = DynamicClientMethods> implements HubClients<T> {
  // Made on first use: a hub is created per invocation, and most use one proxy or none.
  private allProxy: ClientProxy<T> | undefined;
  private slotLease: SlotLease | undefined;

  constructor(
    protected readonly manager: HubLifetimeManager,
    protected readonly options: ClientProxyOptions = {},
  ) {}

  get all(): ClientProxy<T> {
    this.allProxy ??= new TargetedClientProxy<T>(this.manager, ALL);
    return this.allProxy;
  }

  /** The running method's slot lease, shared by every proxy of this hub instance. */
  private get lease(): SlotLease | undefined {
    if (this.options.slot === undefined) return undefined;
    this.slotLease ??= new SlotLease(this.options.slot);
    return this.slotLease;
  }
  allExcept(excluded: readonly string[]): ClientProxy<T> {
    return new TargetedClientProxy<T>(this.manager, { kind: 'allExcept', excluded });
  }
  client(id: string): SingleClientProxy<T> {
    return new ConnectionClientProxy<T>(this.manager, id, this.options, this.lease);
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
    options: ClientProxyOptions = {},
  ) {
    super(manager, options);
  }
  get caller(): SingleClientProxy<T> {
    return this.client(this.connectionId);
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
    const invalid = checkGroupArguments(connectionId, groupName);
    return invalid ? Promise.reject(invalid) : this.manager.addToGroup(connectionId, groupName);
  }
  remove(connectionId: string, groupName: string): Promise<void> {
    const invalid = checkGroupArguments(connectionId, groupName);
    return invalid ? Promise.reject(invalid) : this.manager.removeFromGroup(connectionId, groupName);
  }
}

/**
 * A null, undefined or non-string connection id or group name is refused as the reference's
 * `ArgumentNullException` is, instead of doing nothing (a client passing a `null` connection id,
 * as the official client reports with skipNegotiation, gets an error back).
 */
function checkGroupArguments(connectionId: unknown, groupName: unknown): TypeError | undefined {
  if (typeof connectionId !== 'string')
    return new TypeError("Value cannot be null. (Parameter 'connectionId')");
  if (typeof groupName !== 'string') return new TypeError("Value cannot be null. (Parameter 'groupName')");
  return undefined;
}
