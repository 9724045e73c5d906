import { DelegatingHubLifetimeManager } from '../lifetime/delegating-hub-lifetime-manager.js';
import type { HubConnectionRef, HubLifetimeManager } from '../lifetime/hub-lifetime-manager.js';
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
export class PresenceLifetimeManager extends DelegatingHubLifetimeManager {
  constructor(
    inner: HubLifetimeManager,
    private readonly store: PresenceStore,
    private readonly hubKey: string,
    private readonly hubPath: string,
    private readonly source: (connection: HubConnectionRef) => PresenceSource | undefined,
    private readonly logger: Logger,
    private readonly metrics: HubMetrics,
  ) {
    super(inner);
  }

  override async onConnected(connection: HubConnectionRef): Promise<void> {
    await this.inner.onConnected(connection);
    const userId = connection.userIdentifier;
    // Anonymous connections have no presence: their transport and device are not looked up.
    if (userId === undefined) return;
    const source = this.source(connection);
    if (!source) return;
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

  override async onDisconnected(connection: HubConnectionRef): Promise<void> {
    await this.inner.onDisconnected(connection);
    if (connection.userIdentifier === undefined) return;
    await this.guard('remove', () => this.store.removeConnection(connection.connectionId));
  }

  override async addToGroup(connectionId: string, groupName: string): Promise<void> {
    await this.inner.addToGroup(connectionId, groupName);
    await this.guard('group', () => this.store.addToGroup(connectionId, scopedGroup(this.hubKey, groupName)));
  }

  override async removeFromGroup(connectionId: string, groupName: string): Promise<void> {
    await this.inner.removeFromGroup(connectionId, groupName);
    await this.guard('group', () =>
      this.store.removeFromGroup(connectionId, scopedGroup(this.hubKey, groupName)),
    );
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
