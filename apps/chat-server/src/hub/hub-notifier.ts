/**
 * The domain's {@link ChatNotifier} over the hub: rooms are groups `room:<id>`, agents the group
 * `agents`, users the hub's user targets. Group membership follows room membership through this
 * node's {@link ConnectionRegistry}.
 * @module
 */
import type { HubContext } from '@switchboard/server';
import type { ChatEvent, ChatEventArg, ChatNotifier } from '../domain/ports.js';
import type { ConnectionRegistry } from './connection-registry.js';

/** The group of a room's connections. */
export function roomGroup(roomId: string): string {
  return `room:${roomId}`;
}
/** The group of a user's connections. */
export function userGroup(userId: string): string {
  return `user:${userId}`;
}
/** The group of every agent's connections. */
export const AGENTS_GROUP = 'agents';

/** Delivers chat events through a hub context. */
export class HubNotifier implements ChatNotifier {
  constructor(
    private readonly hub: () => HubContext,
    private readonly registry: ConnectionRegistry,
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
    const groups = this.hub().groups;
    await Promise.all(this.registry.connectionsOf(userId).map((c) => groups.add(c, roomGroup(roomId))));
  }
  async removeFromRoom(userId: string, roomId: string): Promise<void> {
    const groups = this.hub().groups;
    await Promise.all(this.registry.connectionsOf(userId).map((c) => groups.remove(c, roomGroup(roomId))));
  }
  isOnline(userId: string): boolean {
    return this.registry.isOnline(userId);
  }
}
