/**
 * Profiles: a user's display name, avatar and "away" state. Rules: a user changes only their own
 * profile (naming another user is refused, whoever asks); guests (support customers) have no
 * profile to change; an avatar is a PNG, JPEG, GIF or WebP checked by its bytes (never SVG, never a
 * type that lies), at most {@link MAX_AVATAR_BYTES} (and never more than `MAX_ATTACHMENT_BYTES`),
 * stored in the attachments' blob store under a server-made id so every node serves it; only a
 * current avatar is served, to any signed-in user. Every change reaches the user's own devices and
 * everyone who shares a room with them, on every node (`userUpdated`).
 * @module
 */
import { ChatError, forbidden, notFound } from '../errors.js';
import { avatarUrl, type BlobStore, classifyUpload } from '../storage/attachments.js';
import { AVATAR_TYPES, MAX_AVATAR_BYTES, type Presence, type User, type UserRecord } from '../types.js';
import type { UploadedFile } from './attachments.js';
import type { Actor, ServiceDeps } from './ports.js';
import { object, visibleName } from './validate.js';

/** Display names: 1 to 64 characters after NFC normalisation (as at registration). */
const MAX_DISPLAY_NAME = 64;

/** Profile changes and avatars. */
export class ProfileService {
  /** The largest avatar this server takes: {@link MAX_AVATAR_BYTES}, or less with a lower file limit. */
  readonly maxAvatarBytes: number;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly blobs: BlobStore,
    maxAttachmentBytes: number,
  ) {
    this.maxAvatarBytes = Math.min(MAX_AVATAR_BYTES, maxAttachmentBytes);
  }

  /** Checks that `actor` may change the profile of `userId` (their own, not a guest's); returns the record. */
  async requireSelf(actor: Actor, userId: unknown): Promise<UserRecord> {
    if (typeof userId !== 'string' || userId !== actor.id)
      throw forbidden('You can change only your own profile.');
    if (actor.isGuest) throw forbidden('Guests have no profile to change.');
    const user = await this.deps.storage.userById(actor.id);
    if (!user) throw notFound('No such user.');
    return user;
  }

  /** `PATCH /api/users/{userId}` {displayName}: the profile as it is now. */
  async updateProfile(actor: Actor, userId: unknown, body: unknown): Promise<User> {
    await this.requireSelf(actor, userId);
    const input = object(body);
    const displayName = visibleName(input, 'displayName', MAX_DISPLAY_NAME);
    if (displayName === '')
      throw new ChatError('SB_CHAT_INVALID_INPUT', 'displayName: must not be empty.', {
        field: 'displayName',
      });
    await this.deps.storage.setDisplayName(actor.id, displayName);
    return this.announce(actor.id);
  }

  /** The refusal of an avatar past {@link maxAvatarBytes}. */
  tooLarge(): ChatError {
    return new ChatError(
      'SB_CHAT_ATTACHMENT_TOO_LARGE',
      `An avatar has at most ${this.maxAvatarBytes} bytes.`,
      {
        field: 'file',
      },
    );
  }

  /**
   * `PUT /api/users/{userId}/avatar`: stores the image (its bytes first, then the user's row; the
   * previous avatar's bytes are removed after) and answers the profile.
   */
  async setAvatar(actor: Actor, userId: unknown, file: UploadedFile): Promise<User> {
    const before = await this.requireSelf(actor, userId);
    if (file.data.length > this.maxAvatarBytes) throw this.tooLarge();
    if (file.data.length === 0)
      throw new ChatError('SB_CHAT_INVALID_INPUT', 'file: is empty.', { field: 'file' });
    if (
      !AVATAR_TYPES.includes(sniffImage(file.data) ?? '') ||
      !classifyUpload(file.declaredType, file.data).image
    )
      throw new ChatError(
        'SB_CHAT_AVATAR_NOT_IMAGE',
        'An avatar is a PNG, JPEG, GIF or WebP image whose bytes match its declared type.',
        { field: 'file' },
      );
    const avatarId = this.deps.newId();
    await this.blobs.put(avatarId, file.data);
    try {
      await this.deps.storage.setAvatar(actor.id, avatarId);
    } catch (error) {
      await this.blobs.delete([avatarId]);
      throw error;
    }
    if (before.avatarId) await this.blobs.delete([before.avatarId]);
    return this.announce(actor.id);
  }

  /** `DELETE /api/users/{userId}/avatar`: back to initials. */
  async removeAvatar(actor: Actor, userId: unknown): Promise<User> {
    const before = await this.requireSelf(actor, userId);
    await this.deps.storage.setAvatar(actor.id, null);
    if (before.avatarId) await this.blobs.delete([before.avatarId]);
    return this.announce(actor.id);
  }

  /** `GET /api/avatars/{avatarId}`: a current avatar's bytes and type, for any signed-in user. */
  async openAvatar(avatarId: string): Promise<{ contentType: string; data: Buffer }> {
    const owner = await this.deps.storage.userByAvatar(avatarId);
    const data = owner ? await this.blobs.get(avatarId) : undefined;
    const contentType = data && sniffImage(data);
    if (!data || !contentType) throw notFound('No such avatar.');
    return { contentType, data };
  }

  /** `setAway({away})` (hub): marks the caller away or back; their presence goes to their contacts. */
  async setAway(actor: Actor, args: unknown): Promise<Presence> {
    const input = object(args);
    if (typeof input.away !== 'boolean')
      throw new ChatError('SB_CHAT_INVALID_INPUT', 'away: must be true or false.', { field: 'away' });
    await this.deps.storage.setAway(actor.id, input.away);
    const online = await this.deps.notifier.isOnline(actor.id);
    const user = await this.deps.storage.userById(actor.id);
    const presence: Presence = {
      userId: actor.id,
      online,
      lastSeenAt: user?.lastSeenAt ?? null,
      status: presenceStatus(online, input.away),
    };
    const contacts = await this.deps.storage.contactsOf(actor.id);
    await this.deps.notifier.toUsers([actor.id, ...contacts], 'presenceChanged', presence);
    return presence;
  }

  /** Sends the user's profile to their devices and everyone who shares a room with them; returns it. */
  private async announce(userId: string): Promise<User> {
    const record = await this.deps.storage.userById(userId);
    if (!record) throw notFound('No such user.');
    const user = profileOf(record);
    const contacts = await this.deps.storage.contactsOf(userId);
    await this.deps.notifier.toUsers([userId, ...contacts], 'userUpdated', { user });
    return user;
  }
}

/** A user as others see them, with the avatar's URL when there is one. */
export function profileOf(u: UserRecord): User {
  const { id, username, displayName, role, isGuest } = u;
  return {
    id,
    username,
    displayName,
    role,
    isGuest,
    ...(u.avatarId ? { avatarUrl: avatarUrl(u.avatarId) } : {}),
  };
}

/** `online`, `away` or `offline`, from the presence and the user's away flag. */
export function presenceStatus(online: boolean, away: boolean | undefined): 'online' | 'away' | 'offline' {
  if (!online) return 'offline';
  return away ? 'away' : 'online';
}

/** The raster image type the bytes begin as (PNG, JPEG, GIF, WebP), or undefined. */
export function sniffImage(data: Buffer): string | undefined {
  return AVATAR_TYPES.find((type) => classifyUpload(type, data).image);
}
