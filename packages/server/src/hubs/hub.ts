import type { HubPresence } from '../presence/hub-presence.js';
import type { DynamicClientMethods, GroupManager, HubCallerClients } from './client-proxy.js';
import type { HubCallerContext } from './hub-caller-context.js';
import type { HubConnections } from './hub-context.js';

/**
 * The base class of every hub. Public methods of a subclass are hub methods that clients call by
 * name (case-insensitively); their return value (or resolved promise) is the invocation's result.
 * A new instance serves each invocation, as in ASP.NET: keep per-connection state in
 * `context.items`, shared state outside the hub.
 *
 * Methods whose names start with `_`, and the members of this class, are not callable.
 *
 * Streaming: an async generator method (`async *counter(n)`), or one declared
 * `static methods = { m: { stream: true } }` that returns any `AsyncIterable`, streams its items to
 * a client that calls it with `connection.stream(...)`. Upload streams from the client arrive as
 * `UploadStream` arguments. `this.clients.caller.invoke(...)` and
 * `this.clients.client(id).invoke(...)` wait for a client's result.
 *
 * @typeParam TClient - the client methods, for typed `send` calls.
 * @example
 * ```ts
 * interface ChatClient { receive(user: string, text: string): void }
 * class ChatHub extends Hub<ChatClient> {
 *   async send(text: string) {
 *     await this.clients.all.send('receive', this.context.userIdentifier ?? 'anonymous', text);
 *   }
 *   override async onConnected() {
 *     await this.groups.add(this.context.connectionId, 'lobby');
 *   }
 * }
 * ```
 */
export abstract class Hub<TClient extends object = DynamicClientMethods> {
  /** The calling connection. Set by the server before any method runs. */
  context!: HubCallerContext;
  /** Every way to reach clients, relative to the caller. */
  clients!: HubCallerClients<TClient>;
  /** Group membership. */
  groups!: GroupManager;
  /**
   * Aborted when the work of this invocation should stop. For a streaming method it is the
   * stream's own signal, aborted when the client cancels the stream (CancelInvocation, after
   * `subscription.dispose()`) or the connection ends: pass it to whatever the method awaits between
   * items (`setTimeout` from `node:timers/promises`, `fetch`, a database query), since the server
   * can only close the iterator (`return()`, so `finally` blocks run) once the method reaches its
   * next `yield`. For other methods, and in onConnected/onDisconnected, it is the connection's
   * signal (`context.connectionAborted`).
   */
  get invocationSignal(): AbortSignal {
    // The connection's signal is only made when asked for: most connections never need one.
    return this.#ownSignal ?? this.context.connectionAborted;
  }
  set invocationSignal(signal: AbortSignal) {
    this.#ownSignal = signal;
  }
  /** The invocation's own signal (a stream's), when it has one (an ES private name: no clash with a subclass's fields). */
  #ownSignal: AbortSignal | undefined;
  /** Who is online, their connections, and the users of this hub's groups. */
  presence!: HubPresence;
  /** Ends connections from the server side: one, or all of a user's, on every node. */
  connections!: HubConnections;

  /** Runs after the handshake, before any invocation of the connection. Throwing refuses it. */
  onConnected(): Promise<void> | void {}

  /**
   * Runs once when the connection ends. `error` is set when it did not end cleanly (a protocol
   * violation, a timeout, a dropped transport, or a Close message from the client with an error).
   */
  onDisconnected(_error?: Error): Promise<void> | void {}
}

/** A hub class that the server can instantiate. */
export type HubClass<H extends Hub<object> = Hub<object>> = new () => H;

/**
 * A hub class whose constructor takes arguments (its dependencies): the server cannot call it,
 * so it is mapped with a {@link HubActivator} that can.
 */
export type HubClassWithDependencies<H extends Hub<object> = Hub<object>> = new (
  // biome-ignore lint/suspicious/noExplicitAny: any constructor parameters; only the activator calls it
  ...args: any[]
) => H;

/**
 * Creates the hub instance for each invocation and each connection event (ASP.NET's
 * IHubActivator): how a hub receives its dependencies. It must return a new instance of the
 * mapped class every time; the server sets `context`, `clients`, `groups` and the rest on it.
 *
 * @example
 * ```ts
 * class ChatHub extends Hub {
 *   constructor(private readonly rooms: RoomStore) { super(); }
 *   listRooms() { return this.rooms.list(); }
 * }
 * hubs.mapHub('/chat', ChatHub, { activator: () => new ChatHub(rooms) });
 * ```
 */
export type HubActivator<H extends Hub<object> = Hub<object>> = () => H;

/** The names of {@link Hub}'s own members, which are never hub methods. */
export const RESERVED_HUB_MEMBERS: ReadonlySet<string> = new Set([
  'constructor',
  'context',
  'clients',
  'groups',
  'invocationsignal',
  'presence',
  'connections',
  'onconnected',
  'ondisconnected',
]);
