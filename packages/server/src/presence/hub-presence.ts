import type { PresenceConnection, PresenceEvent, PresenceStore } from './presence-store.js';

/**
 * Presence as one hub sees it: who is online (server-wide: a user is one person whatever the hub),
 * their connections, and the users of this hub's groups. Available as `this.presence` in hub
 * methods and as `hubContext(path).presence` outside. Consistency is the store's: immediate on
 * this node, within one heartbeat across nodes (see {@link PresenceStore}).
 *
 * @example
 * ```ts
 * const chat = hubs.hubContext('/hubs/chat');
 * chat.presence.onUserOnline((event) => chat.clients.all.send('presence', event.userId, true));
 * ```
 */
export interface HubPresence {
  /** Whether the user has a connection anywhere (or left less than the grace period ago). */
  isOnline(userId: string): Promise<boolean>;
  /** Every online user, sorted. */
  onlineUsers(): Promise<string[]>;
  /** The user's live connections on every node, oldest first, with node, transport and device. */
  userConnections(userId: string): Promise<PresenceConnection[]>;
  /** How many connections of authenticated users are in a group of this hub. */
  groupConnectionCount(group: string): Promise<number>;
  /** The connections in a group of this hub, on every node, with their user, node and transport. */
  groupConnections(group: string): Promise<PresenceConnection[]>;
  /** The users with at least one connection in a group of this hub, sorted. */
  groupUsers(group: string): Promise<string[]>;
  /** How many users have a connection in a group of this hub. */
  groupUserCount(group: string): Promise<number>;
  /**
   * Runs `listener` once per user transition to online, cluster-wide: only on the node that
   * decided the transition. Returns a function that unsubscribes.
   */
  onUserOnline(listener: (event: PresenceEvent) => void): () => void;
  /** Like {@link onUserOnline}, for the transition to offline (after the grace period). */
  onUserOffline(listener: (event: PresenceEvent) => void): () => void;
}

/**
 * Group names are per hub in SignalR, while one presence store serves the whole server: the store
 * sees `<hub path>#<group>` (a `#` cannot occur in a path).
 */
export function scopedGroup(hubKey: string, group: string): string {
  return `${hubKey}#${group}`;
}

/** The {@link HubPresence} of one hub over a server's store. */
export class DefaultHubPresence implements HubPresence {
  constructor(
    private readonly store: PresenceStore,
    private readonly hubKey: string,
  ) {}

  isOnline(userId: string): Promise<boolean> {
    return this.store.isOnline(userId);
  }
  async onlineUsers(): Promise<string[]> {
    return (await this.store.onlineUsers()).sort();
  }
  userConnections(userId: string): Promise<PresenceConnection[]> {
    return this.store.userConnections(userId);
  }
  groupConnectionCount(group: string): Promise<number> {
    return this.store.groupConnectionCount(scopedGroup(this.hubKey, group));
  }
  groupConnections(group: string): Promise<PresenceConnection[]> {
    return this.store.groupConnections(scopedGroup(this.hubKey, group));
  }
  async groupUsers(group: string): Promise<string[]> {
    return (await this.store.groupUsers(scopedGroup(this.hubKey, group))).sort();
  }
  groupUserCount(group: string): Promise<number> {
    return this.store.groupUserCount(scopedGroup(this.hubKey, group));
  }
  onUserOnline(listener: (event: PresenceEvent) => void): () => void {
    return this.on('userOnline', listener);
  }
  onUserOffline(listener: (event: PresenceEvent) => void): () => void {
    return this.on('userOffline', listener);
  }

  private on(type: PresenceEvent['type'], listener: (event: PresenceEvent) => void): () => void {
    const nodeId = this.store.nodeId;
    return this.store.subscribe((event) => {
      if (event.type === type && event.originNodeId === nodeId) listener(event);
    });
  }
}
