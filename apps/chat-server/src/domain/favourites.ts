/**
 * Favourite rooms, kept per user on the server: `setFavourite` marks or unmarks a room the caller
 * is a member of and tells every device of the caller, on every node (`favouriteUpdated`);
 * `listRooms` carries the mark (`favourite`).
 * @module
 */
import type { FavouriteUpdate, RoomSummary } from '../types.js';
import type { Actor, ServiceDeps } from './ports.js';
import type { RoomService } from './rooms.js';
import { object, optionalBoolean } from './validate.js';

/** Favourite rooms. */
export class FavouriteService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly rooms: RoomService,
  ) {}

  /** `{roomId, favourite}`: marks or unmarks a room of the caller's. */
  async setFavourite(actor: Actor, args: unknown): Promise<FavouriteUpdate> {
    const input = object(args, 'favourite');
    const room = await this.rooms.requireMember(actor, input.roomId);
    const favourite = optionalBoolean(input, 'favourite') ?? true;
    await this.deps.storage.setFavourite(actor.id, room.id, favourite, this.deps.now());
    const update = { roomId: room.id, favourite };
    await this.deps.notifier.toUsers([actor.id], 'favouriteUpdated', update);
    return update;
  }

  /** The caller's rooms (as `RoomService.listRooms`), each with its favourite mark. */
  async listRooms(actor: Actor): Promise<RoomSummary[]> {
    const [rooms, favourites] = await Promise.all([
      this.rooms.listRooms(actor),
      this.deps.storage.favouriteRoomIds(actor.id),
    ]);
    const marked = new Set(favourites);
    return rooms.map((r) => (marked.has(r.id) ? { ...r, favourite: true } : r));
  }
}
