/**
 * The domain's {@link ChatNotifier} over the hub: rooms are groups `room:<id>`, agents the group
 * `agents`, users the hub's user targets. Group membership follows room membership for every
 * connection of the user on every node (the server's presence lists them cluster-wide).
 * @module
 */
import type { HubContext } from '@switchboard/server';
import type { ChatEvent, ChatEventArg, ChatNotifier } from '../domain/ports.js';

/** The group of a room's connections. */
export function roomGroup(roomId: string): string {
  return `room:${roomId}`;
}
/** The group of a user's connections. */
export function userGroup(userId: string): string {
  return `user:${userId}`;
}
/** The group of the connections that authenticated with one token (logout ends them). */
export function tokenGroup(jti: string): string {
  return `token:${jti}`;
}
/** The group of every agent's connections. */
export const AGENTS_GROUP = 'agents';

/** Delivers chat events through a hub context. */
export class HubNotifier implements ChatNotifier {
  constructor(
    private readonly hub: () => HubContext,
    /** The hub's path, to tell its connections from other hubs' in presence. */
    private readonly path: string,
  ) {}

  toRoom<E extends ChatEvent>(roomId: string, event: E, arg: ChatEventArg<E>): Promise<void> {
    return this.hub().clients.group(roomGroup(roomId)).send(event, arg);
  }
  toRoomExcept<E extends ChatEvent>(
    roomId: string,
    connectionId: string,
    event: E,
    arg: ChatEventArg<E>,
  ): Promise<void> {
    return this.hub().clients.groupExcept(roomGroup(roomId), [connectionId]).send(event, arg);
  }
  toUsers<E extends ChatEvent>(userIds: readonly string[], event: E, arg: ChatEventArg<E>): Promise<void> {
    if (userIds.length === 0) return Promise.resolve();
    return this.hub().clients.users(userIds).send(event, arg);
  }
  toAgents<E extends ChatEvent>(event: E, arg: ChatEventArg<E>): Promise<void> {
    return this.hub().clients.group(AGENTS_GROUP).send(event, arg);
  }
  async addToRoom(userId: string, roomId: string): Promise<void> {
    const { groups } = this.hub();
    const connections = await this.connectionsOf(userId);
    await Promise.all(connections.map((c) => groups.add(c, roomGroup(roomId))));
  }
  async removeFromRoom(userId: string, roomId: string): Promise<void> {
    const { groups } = this.hub();
    const connections = await this.connectionsOf(userId);
    await Promise.all(connections.map((c) => groups.remove(c, roomGroup(roomId))));
  }
  isOnline(userId: string): Promise<boolean> {
    return this.hub().presence.isOnline(userId);
  }

  /** The user's connections to this hub on every node. */
  private async connectionsOf(userId: string): Promise<string[]> {
    return (await this.hub().presence.userConnections(userId))
      .filter((c) => c.hubPath === undefined || c.hubPath === this.path)
      .map((c) => c.connectionId);
  }
}
