/**
 * Room settings: rename, topic, public or private, archive and restore, for the room's owner or an
 * admin (never a guest, never a direct or support conversation). Every member hears of a change
 * (`roomUpdated` with `change: 'updated'`). An archived room is read-only (sending, editing,
 * deleting, reacting and uploading are refused with `SB_CHAT_ROOM_ARCHIVED`) and
 * out of the public list until restored.
 * @module
 */
import { ChatError, forbidden, notFound } from '../errors.js';
import type { Room } from '../types.js';
import type { Actor, ServiceDeps } from './ports.js';
import { MAX_ROOM_NAME } from './rooms.js';
import { id, invalid, object, optionalBoolean, visibleName } from './validate.js';

/** The longest topic. */
export const MAX_TOPIC = 250;

/** Changes to rooms' settings. */
export class RoomSettingsService {
  constructor(private readonly deps: ServiceDeps) {}

  /** `{roomId, name?, topic?, isPrivate?, archived?}`: changes what is given; answers the room. */
  async updateRoom(actor: Actor, args: unknown): Promise<Room> {
    const input = object(args, 'settings');
    const room = await this.managed(actor, input.roomId);
    const name = input.name === undefined ? undefined : visibleName(input, 'name', MAX_ROOM_NAME);
    let topic: string | undefined;
    if (input.topic !== undefined) {
      // An empty topic clears it.
      topic = input.topic === '' ? '' : visibleName(input, 'topic', MAX_TOPIC);
    }
    const isPrivate = optionalBoolean(input, 'isPrivate');
    const archived = optionalBoolean(input, 'archived');
    if ([name, topic, isPrivate, archived].every((v) => v === undefined))
      throw invalid('settings', 'name, topic, isPrivate or archived is required');
    const updated = await this.deps.storage.updateRoomSettings(room.id, { name, topic, isPrivate, archived });
    if (!updated) throw notFound('No such room.');
    await this.deps.notifier.toRoom(room.id, 'roomUpdated', {
      room: updated,
      change: 'updated',
      userId: actor.id,
    });
    return updated;
  }

  /** A room the actor may manage: an ordinary room they own, or any ordinary room for an admin. */
  private managed(actor: Actor, roomId: unknown): Promise<Room> {
    return managedRoom(this.deps, actor, roomId);
  }
}

/** The refusal of a message to an archived room. */
export function archivedRoom(): Error {
  return new ChatError(
    'SB_CHAT_ROOM_ARCHIVED',
    'This room is archived: it is read-only until its owner or an admin restores it.',
  );
}

/** Refuses any change to an archived room's content (see {@link archivedRoom}). */
export async function refuseIfArchived(deps: ServiceDeps, roomId: string): Promise<void> {
  if ((await deps.storage.roomById(roomId))?.archived) throw archivedRoom();
}

/**
 * A room the actor may manage: an ordinary room they own (and are a member of), or any ordinary
 * room for an admin; never for a guest.
 */
export async function managedRoom(deps: ServiceDeps, actor: Actor, roomId: unknown): Promise<Room> {
  if (actor.isGuest) throw forbidden('Guests cannot change rooms.');
  const room = await deps.storage.roomById(id(roomId, 'roomId'));
  if (!room) throw notFound('No such room.');
  const member = await deps.storage.isMember(room.id, actor.id);
  if (actor.role !== 'admin' && (!member || room.ownerId !== actor.id))
    throw forbidden("Only the room's owner or an admin changes its settings.");
  if (room.kind !== 'room') throw forbidden('Direct and support conversations have no settings.');
  return room;
}
