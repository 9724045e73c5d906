/**
 * The HubLifetimeManager contract: who is connected to a hub, which groups they are in, and how a
 * send reaches them. The in-memory {@link DefaultHubLifetimeManager} serves one node; backplanes
 * (Redis, PostgreSQL) implement the same contract across nodes.
 * @module
 */
import type { CompletionMessage } from '@switchboard/protocol';
import type { SerializedHubMessage } from './serialized-hub-message.js';

/**
 * A connection as a lifetime manager sees it. Implemented by the server's connection context;
 * backplanes never build one.
 */
export interface HubConnectionRef {
  /** The public connection id (never the secret connection token). */
  readonly connectionId: string;
  /** The user id, when the connection is authenticated. */
  readonly userIdentifier: string | undefined;
  /**
   * Queues a message for the client, serialized with this connection's protocol through the
   * message's cache. Never throws and never waits: a write that fails aborts this connection only.
   */
  writeMessage(message: SerializedHubMessage): void;
  /**
   * Ends the connection from the server side: a Close message with `options.reason` as its error
   * (none when absent) and `allowReconnect` as given (default false), then the transport closes.
   */
  close(options?: CloseConnectionOptions): void;
}

/** How {@link HubLifetimeManager.closeConnection} and `closeUser` end connections. */
export interface CloseConnectionOptions {
  /** The Close message's error, which the official client reports as `Server returned an error on close: <reason>`. */
  readonly reason?: string;
  /** Whether a client with automatic reconnect may come back. Default false. */
  readonly allowReconnect?: boolean;
}

/**
 * Routes sends to connections, on one node or across many.
 *
 * Contract, for every implementation:
 * - Delivery: each send reaches every target connection that is connected when the send starts,
 *   once. A connection that leaves during a send may or may not receive it.
 * - Order: the sends of one caller to one target arrive in the order they were made.
 * - Isolation: a failing or slow connection never stops delivery to the others, and a send never
 *   throws because of a recipient; the promise resolves once the message is queued for every local
 *   recipient (and, across nodes, handed to the backplane). It rejects with the protocol's error
 *   when the message cannot be serialized (the sender's mistake), after serving the recipients of
 *   any protocol that could.
 * - Groups are named by case-sensitive strings and exist while they have members; adding a
 *   connection twice is harmless, removing an absent one too. Group changes for a connection that
 *   does not exist (anywhere) resolve without effect.
 * - Users: `sendUser` reaches every connection whose `userIdentifier` equals the id, without
 *   scanning the other connections.
 * - Client results (`invokeConnection`, `setConnectionResult`): see those methods. Every pending
 *   result settles exactly once: with the client's answer, or with an error when the connection
 *   does not exist, disconnects, or the caller's timeout or signal fires first.
 */
export interface HubLifetimeManager {
  /** A connection finished its handshake. */
  onConnected(connection: HubConnectionRef): Promise<void>;
  /** A connection ended; it leaves every group and the user index. */
  onDisconnected(connection: HubConnectionRef): Promise<void>;
  /** Sends to every connection of the hub. */
  sendAll(method: string, args: readonly unknown[]): Promise<void>;
  /** Sends to every connection except the listed ids. */
  sendAllExcept(
    method: string,
    args: readonly unknown[],
    excludedConnectionIds: readonly string[],
  ): Promise<void>;
  /** Sends to one connection. */
  sendConnection(connectionId: string, method: string, args: readonly unknown[]): Promise<void>;
  /** Sends to each listed connection once. */
  sendConnections(connectionIds: readonly string[], method: string, args: readonly unknown[]): Promise<void>;
  /** Sends to every member of a group. */
  sendGroup(groupName: string, method: string, args: readonly unknown[]): Promise<void>;
  /** Sends to every member of any listed group, once per connection. */
  sendGroups(groupNames: readonly string[], method: string, args: readonly unknown[]): Promise<void>;
  /** Sends to the members of a group except the listed ids. */
  sendGroupExcept(
    groupName: string,
    method: string,
    args: readonly unknown[],
    excludedConnectionIds: readonly string[],
  ): Promise<void>;
  /** Sends to every connection of a user. */
  sendUser(userId: string, method: string, args: readonly unknown[]): Promise<void>;
  /** Sends to every connection of any listed user, once per connection. */
  sendUsers(userIds: readonly string[], method: string, args: readonly unknown[]): Promise<void>;
  /** Adds a connection to a group. */
  addToGroup(connectionId: string, groupName: string): Promise<void>;
  /** Removes a connection from a group. */
  removeFromGroup(connectionId: string, groupName: string): Promise<void>;
  /**
   * Invokes client method `method` on one connection (on any node) and resolves with the value the
   * client's handler returned (docs/protocol.md#client-results). The connection receives an Invocation
   * with an invocation id that no other pending result of that connection uses (the default
   * manager: `s1`, `s2`, … per connection, as ASP.NET; a backplane may use longer unique ids) and
   * answers with a Completion, which its server passes to {@link setConnectionResult}.
   *
   * Rejects with:
   * - a `HubException` whose message is the client's error text when the client answered with an
   *   error (`Error: from callback`; `Client didn't provide a result.` when it has no handler or
   *   the handler returned nothing);
   * - `SB_ERR_CLIENT_RESULT_FAILED` `Connection '<id>' does not exist.` when no node has the
   *   connection, or `Connection '<id>' disconnected.` when it ends before answering;
   * - `SB_ERR_CLIENT_RESULT_TIMEOUT` `Timed out waiting for a result from connection '<id>'.` after
   *   `options.timeoutMs` (no timeout when absent: the hub layer applies `clientResultTimeoutMs`);
   * - `options.signal.reason` when the signal aborts first;
   * - the protocol's error when the arguments cannot be serialized.
   * After it settles, a late Completion for the id is ignored.
   */
  invokeConnection(
    connectionId: string,
    method: string,
    args: readonly unknown[],
    options?: ClientInvocationOptions,
  ): Promise<unknown>;
  /**
   * Hands the Completion a connection sent for a server-to-client invocation to the pending
   * {@link invokeConnection} (on whichever node made it). Called by the node that holds the
   * connection; Completions whose id is not pending (late, unknown, or already settled) are
   * ignored. Never rejects because of the id.
   */
  setConnectionResult(connectionId: string, completion: CompletionMessage): Promise<void>;
  /**
   * Closes one connection, on whichever node holds it, with a Close message (see
   * {@link HubConnectionRef.close}). Resolves once the close is under way; an unknown connection is
   * no error.
   */
  closeConnection(connectionId: string, options?: CloseConnectionOptions): Promise<void>;
  /** Closes every connection of a user on every node, as {@link closeConnection} does. */
  closeUser(userId: string, options?: CloseConnectionOptions): Promise<void>;
  /**
   * Releases what the manager holds (backplane connections, timers). Optional; a `HubServer` calls
   * it on `close()` for the managers it created (the default ones and those of
   * `lifetimeManagerFactory`), after its connections have drained.
   */
  close?(): Promise<void>;
}

/** Per-call options of {@link HubLifetimeManager.invokeConnection}. */
export interface ClientInvocationOptions {
  /** Aborts the wait; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Rejects with `SB_ERR_CLIENT_RESULT_TIMEOUT` after this many milliseconds. Default: no limit. */
  readonly timeoutMs?: number;
}
