/**
 * {@link JoiningLifetimeManager}: the lifetime manager every hub of the service runs with. It
 * delegates everything to the manager it wraps (the backplane's, or an in-memory one), but a
 * connection's registration ends only once the connection has joined its groups (the connect
 * event's and its user's memberships). The server answers the handshake after the registration,
 * so a group send made as soon as the client is connected reaches it.
 * @module
 */
import type { CompletionMessage } from '@switchboard/protocol';
import type {
  ClientInvocationOptions,
  CloseConnectionOptions,
  HubConnectionRef,
  HubLifetimeManager,
} from '@switchboard/server';

/** What runs as a connection registers and after it left. */
export interface ConnectionSetup {
  /** Joins the connection's groups; a rejection refuses the connection (it is unregistered). */
  joined(connection: HubConnectionRef): Promise<void>;
  /** Forgets the connection (before the wrapped manager unregisters it). */
  left(connection: HubConnectionRef): void;
}

/** A lifetime manager whose `onConnected` also joins the connection's groups (see the module). */
export class JoiningLifetimeManager implements HubLifetimeManager {
  constructor(
    private readonly inner: HubLifetimeManager,
    private readonly setup: ConnectionSetup,
  ) {}

  async onConnected(connection: HubConnectionRef): Promise<void> {
    await this.inner.onConnected(connection);
    try {
      await this.setup.joined(connection);
    } catch (error) {
      // The server does not call onDisconnected for a connection whose registration failed.
      this.setup.left(connection);
      await this.inner.onDisconnected(connection).catch(() => {});
      throw error;
    }
  }

  async onDisconnected(connection: HubConnectionRef): Promise<void> {
    this.setup.left(connection);
    await this.inner.onDisconnected(connection);
  }

  sendAll(method: string, args: readonly unknown[]): Promise<void> {
    return this.inner.sendAll(method, args);
  }

  sendAllExcept(method: string, args: readonly unknown[], excluded: readonly string[]): Promise<void> {
    return this.inner.sendAllExcept(method, args, excluded);
  }

  sendConnection(connectionId: string, method: string, args: readonly unknown[]): Promise<void> {
    return this.inner.sendConnection(connectionId, method, args);
  }

  sendConnections(connectionIds: readonly string[], method: string, args: readonly unknown[]): Promise<void> {
    return this.inner.sendConnections(connectionIds, method, args);
  }

  sendGroup(groupName: string, method: string, args: readonly unknown[]): Promise<void> {
    return this.inner.sendGroup(groupName, method, args);
  }

  sendGroups(groupNames: readonly string[], method: string, args: readonly unknown[]): Promise<void> {
    return this.inner.sendGroups(groupNames, method, args);
  }

  sendGroupExcept(
    groupName: string,
    method: string,
    args: readonly unknown[],
    excluded: readonly string[],
  ): Promise<void> {
    return this.inner.sendGroupExcept(groupName, method, args, excluded);
  }

  sendUser(userId: string, method: string, args: readonly unknown[]): Promise<void> {
    return this.inner.sendUser(userId, method, args);
  }

  sendUsers(userIds: readonly string[], method: string, args: readonly unknown[]): Promise<void> {
    return this.inner.sendUsers(userIds, method, args);
  }

  addToGroup(connectionId: string, groupName: string): Promise<void> {
    return this.inner.addToGroup(connectionId, groupName);
  }

  removeFromGroup(connectionId: string, groupName: string): Promise<void> {
    return this.inner.removeFromGroup(connectionId, groupName);
  }

  invokeConnection(
    connectionId: string,
    method: string,
    args: readonly unknown[],
    options?: ClientInvocationOptions,
  ): Promise<unknown> {
    return this.inner.invokeConnection(connectionId, method, args, options);
  }

  setConnectionResult(connectionId: string, completion: CompletionMessage): Promise<void> {
    return this.inner.setConnectionResult(connectionId, completion);
  }

  closeConnection(connectionId: string, options?: CloseConnectionOptions): Promise<void> {
    return this.inner.closeConnection(connectionId, options);
  }

  closeUser(userId: string, options?: CloseConnectionOptions): Promise<void> {
    return this.inner.closeUser(userId, options);
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
