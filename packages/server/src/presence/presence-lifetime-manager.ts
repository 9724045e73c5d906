import type { CompletionMessage } from '@switchboard/protocol';
import type {
  ClientInvocationOptions,
  CloseConnectionOptions,
  HubConnectionRef,
  HubLifetimeManager,
} from '../lifetime/hub-lifetime-manager.js';
import type { Logger } from '../logger.js';
import type { HubMetrics } from '../metrics.js';
import { scopedGroup } from './hub-presence.js';
import type { DeviceHint, PresenceStore } from './presence-store.js';

/** What presence needs to know about a connection beyond the lifetime manager's view. */
export interface PresenceSource {
  /** The transport in use. */
  readonly transport: string;
  /** The device hint of the connection's user agent. */
  readonly device: DeviceHint;
}

/**
 * A {@link HubLifetimeManager} that keeps the presence store in step with an inner manager: an
 * authenticated connection is added to presence after the inner manager registered it (so that
 * the hub's onConnected already sees its user online) and removed after the inner manager let it
 * go; group changes follow the inner manager's. Sends pass straight through. Presence failures are
 * logged and counted and never refuse or break a connection.
 */
export class PresenceLifetimeManager implements HubLifetimeManager {
  constructor(
    readonly inner: HubLifetimeManager,
    private readonly store: PresenceStore,
    private readonly hubKey: string,
    private readonly hubPath: string,
    private readonly source: (connection: HubConnectionRef) => PresenceSource | undefined,
    private readonly logger: Logger,
    private readonly metrics: HubMetrics,
  ) {}

  async onConnected(connection: HubConnectionRef): Promise<void> {
    await this.inner.onConnected(connection);
    const userId = connection.userIdentifier;
    const source = this.source(connection);
    if (userId === undefined || !source) return;
    await this.guard('add', () =>
      this.store.addConnection({
        connectionId: connection.connectionId,
        userId,
        hubPath: this.hubPath,
        transport: source.transport,
        connectedAt: Date.now(),
        device: source.device,
      }),
    );
  }

  async onDisconnected(connection: HubConnectionRef): Promise<void> {
    await this.inner.onDisconnected(connection);
    if (connection.userIdentifier === undefined) return;
    await this.guard('remove', () => this.store.removeConnection(connection.connectionId));
  }

  async addToGroup(connectionId: string, groupName: string): Promise<void> {
    await this.inner.addToGroup(connectionId, groupName);
    await this.guard('group', () => this.store.addToGroup(connectionId, scopedGroup(this.hubKey, groupName)));
  }

  async removeFromGroup(connectionId: string, groupName: string): Promise<void> {
    await this.inner.removeFromGroup(connectionId, groupName);
    await this.guard('group', () =>
      this.store.removeFromGroup(connectionId, scopedGroup(this.hubKey, groupName)),
    );
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

  private async guard(operation: string, action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.metrics.error(this.hubPath, 'SB_ERR_PRESENCE_FAILED');
      this.logger.error('presence.update_failed', { hub: this.hubPath, operation, error: error as Error });
    }
  }
}
