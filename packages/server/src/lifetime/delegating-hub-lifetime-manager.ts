/**
 * {@link DelegatingHubLifetimeManager}: a lifetime manager that hands every call to the one it
 * wraps, for wrappers that change a few calls (presence, the service's group joins) and pass the
 * rest through.
 * @module
 */
import type { CompletionMessage } from '@switchboard/protocol';
import type {
  ClientInvocationOptions,
  CloseConnectionOptions,
  HubConnectionRef,
  HubLifetimeManager,
} from './hub-lifetime-manager.js';

/**
 * Passes every call to `inner`. Extend it and override what the wrapper changes.
 *
 * @example
 * ```ts
 * class Counting extends DelegatingHubLifetimeManager {
 *   connected = 0;
 *   override async onConnected(connection: HubConnectionRef) {
 *     await super.onConnected(connection);
 *     this.connected++;
 *   }
 * }
 * ```
 */
export class DelegatingHubLifetimeManager implements HubLifetimeManager {
  constructor(readonly inner: HubLifetimeManager) {}

  onConnected(connection: HubConnectionRef): Promise<void> {
    return this.inner.onConnected(connection);
  }
  onDisconnected(connection: HubConnectionRef): Promise<void> {
    return this.inner.onDisconnected(connection);
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
}
