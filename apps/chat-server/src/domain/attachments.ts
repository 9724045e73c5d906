/**
 * Attachments: files uploaded to a room by its members, then sent with a message. Rules: only
 * members upload and fetch (a file no message took yet only by its uploader); at most
 * `MAX_ATTACHMENT_BYTES` per file and `MAX_ATTACHMENT_BYTES_PER_DAY` per user over 24 hours, each
 * refused with 413 and nothing stored; a file's name is shown and offered as the download's name,
 * never used as a path (and refused when it holds a path separator); uploads never sent are removed
 * after a day; a deleted message's files are removed with it.
 * @module
 */
import { ChatError, notFound } from '../errors.js';
import {
  type AttachmentRecord,
  type BlobStore,
  classifyUpload,
  publicAttachment,
} from '../storage/attachments.js';
import type { Attachment, Room } from '../types.js';
import type { Actor, ServiceDeps } from './ports.js';
import { archivedRoom } from './room-settings.js';
import type { RoomService } from './rooms.js';
import { type Input, id, invalid } from './validate.js';

/** How long an upload waits for a message before it is removed: 24 hours. */
export const UNATTACHED_TTL_MS = 24 * 3600_000;

/** The most files one message carries. */
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;

/** The limits of {@link AttachmentService}. */
export interface AttachmentLimits {
  /** The largest file, in bytes (`MAX_ATTACHMENT_BYTES`). */
  readonly maxAttachmentBytes: number;
  /** What one user may upload in 24 hours, in bytes (`MAX_ATTACHMENT_BYTES_PER_DAY`). */
  readonly maxAttachmentBytesPerDay: number;
}

/** A file as an upload delivers it, read whole. */
export interface UploadedFile {
  /** The name the client gave (checked here). */
  readonly name: string;
  /** The type the client declared. */
  readonly declaredType: string;
  readonly data: Buffer;
}

/** Uploads, fetches and the files' life with their messages. */
export class AttachmentService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly rooms: RoomService,
    private readonly blobs: BlobStore,
    readonly limits: AttachmentLimits,
  ) {}

  /**
   * Checks, before a body is read, that the caller may upload to the room and has quota left;
   * returns the room.
   */
  async beginUpload(actor: Actor, roomId: unknown): Promise<Room> {
    const room = await this.rooms.requireMember(actor, roomId);
    if (room.archived) throw archivedRoom();
    await this.checkQuota(actor, 0);
    return room;
  }

  /** The refusal of a file past `MAX_ATTACHMENT_BYTES`. */
  tooLarge(): ChatError {
    return new ChatError(
      'SB_CHAT_ATTACHMENT_TOO_LARGE',
      `A file has at most ${this.limits.maxAttachmentBytes} bytes.`,
      { field: 'file' },
    );
  }

  /**
   * Stores a whole upload: its bytes first, then its row (removing the bytes when the row fails),
   * so a file is either all there or not at all.
   */
  async store(actor: Actor, room: Room, file: UploadedFile): Promise<Attachment> {
    const name = checkFileName(file.name);
    if (file.data.length > this.limits.maxAttachmentBytes) throw this.tooLarge();
    if (file.data.length === 0) throw invalid('file', 'is empty');
    await this.checkQuota(actor, file.data.length);
    const { contentType, image } = classifyUpload(file.declaredType, file.data);
    const attachmentId = this.deps.newId();
    await this.blobs.put(attachmentId, file.data);
    try {
      const record = await this.deps.storage.insertAttachment({
        id: attachmentId,
        roomId: room.id,
        uploaderId: actor.id,
        name,
        contentType,
        image,
        size: file.data.length,
        createdAt: this.deps.now(),
      });
      return publicAttachment(record);
    } catch (error) {
      await this.blobs.delete([attachmentId]);
      throw error;
    }
  }

  /**
   * A file and its bytes for a member of its room (a file no message took yet: for its uploader
   * only). Anyone else gets the refusal a non-member gets, or not found.
   */
  async open(actor: Actor, attachmentId: string): Promise<{ attachment: AttachmentRecord; data: Buffer }> {
    const attachment = await this.deps.storage.attachmentById(attachmentId);
    if (!attachment) throw notFound('No such file.');
    await this.rooms.requireMember(actor, attachment.roomId);
    if (attachment.messageId === null && attachment.uploaderId !== actor.id) throw notFound('No such file.');
    const data = await this.blobs.get(attachment.id);
    if (!data) throw notFound('No such file.');
    return { attachment, data };
  }

  /**
   * Checks that a message about to be sent may take these files: uploaded by the sender to this
   * room, and not taken by another message (a retry of the same message may name them again).
   */
  async checkAttachable(
    actor: Actor,
    roomId: string,
    ids: readonly string[],
    clientMessageId: string,
  ): Promise<void> {
    for (const attachmentId of ids) {
      const a = await this.deps.storage.attachmentById(attachmentId);
      if (!a || a.roomId !== roomId || a.uploaderId !== actor.id) {
        throw invalid('attachmentIds', `names a file you did not upload to this room (${attachmentId})`);
      }
      if (a.messageId !== null) {
        const taker = await this.deps.storage.messageById(a.messageId);
        if (taker?.senderId !== actor.id || taker.clientMessageId !== clientMessageId)
          throw invalid('attachmentIds', `names a file another message carries (${attachmentId})`);
      }
    }
  }

  /** Gives a just stored message its files. */
  async attach(actor: Actor, roomId: string, messageId: string, ids: readonly string[]): Promise<void> {
    await this.deps.storage.attachToMessage(messageId, roomId, actor.id, ids);
  }

  /** Removes a message's files: their rows, then their bytes. */
  async removeOfMessage(messageId: string): Promise<void> {
    const ids = await this.deps.storage.deleteAttachmentsOfMessage(messageId);
    await this.blobs.delete(ids);
  }

  /** Removes the uploads no message took within {@link UNATTACHED_TTL_MS}; returns how many. */
  async sweep(nowMs = Date.parse(this.deps.now())): Promise<number> {
    const ids = await this.deps.storage.deleteUnattachedBefore(
      new Date(nowMs - UNATTACHED_TTL_MS).toISOString(),
    );
    await this.blobs.delete(ids);
    return ids.length;
  }

  private async checkQuota(actor: Actor, adding: number): Promise<void> {
    const since = new Date(Date.parse(this.deps.now()) - 24 * 3600_000).toISOString();
    const used = await this.deps.storage.attachmentBytesSince(actor.id, since);
    const max = this.limits.maxAttachmentBytesPerDay;
    if (used + adding > max || (adding === 0 && used >= max)) {
      throw new ChatError(
        'SB_CHAT_ATTACHMENT_QUOTA',
        `You may upload ${max} bytes in 24 hours; ${Math.max(0, max - used)} are left.`,
        { field: 'file' },
      );
    }
  }
}

/**
 * The `attachmentIds` of a message: absent or an array of at most
 * {@link MAX_ATTACHMENTS_PER_MESSAGE} distinct ids.
 */
export function attachmentIdsOf(input: Input): string[] {
  const raw = input.attachmentIds;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalid('attachmentIds', 'must be an array of file ids');
  if (raw.length > MAX_ATTACHMENTS_PER_MESSAGE)
    throw invalid('attachmentIds', `must have at most ${MAX_ATTACHMENTS_PER_MESSAGE} files`);
  return [...new Set(raw.map((value) => id(value, 'attachmentIds')))];
}

/**
 * A file name as given, or a refusal: not empty, at most 255 characters, no path separator (`/`,
 * `\`), no control character, not `.` or `..`.
 */
export function checkFileName(name: string): string {
  const value = name.normalize('NFC');
  if (value.trim() === '') throw invalid('name', 'must not be empty');
  if (value.length > 255) throw invalid('name', 'must have at most 255 characters');
  if (/[/\\]/.test(value)) throw invalid('name', 'must not hold a path separator');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value) || value === '.' || value === '..')
    throw invalid('name', 'is not a file name');
  return value;
}
