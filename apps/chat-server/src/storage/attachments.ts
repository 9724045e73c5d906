/**
 * Attachments in storage: the rows (in the chat's database, both dialects) and the bytes, behind
 * one {@link BlobStore}: files on disk (`DATA_DIR/attachments` with SQLite, or a shared
 * `ATTACHMENTS_DIR`), or the PostgreSQL database itself when several nodes share `DATABASE_URL`,
 * so that any node serves any file. Bytes are stored under the attachment's id (a server-made
 * UUID), never under the name the uploader gave.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Attachment } from '../types.js';

/** An attachment with what only the server keeps. */
export interface AttachmentRecord extends Attachment {
  readonly uploaderId: string;
  /** The message that carries it; null until one does. */
  readonly messageId: string | null;
  readonly createdAt: string;
}

/** An attachment to record (its bytes stored already). */
export interface NewAttachment {
  readonly id: string;
  readonly roomId: string;
  readonly uploaderId: string;
  readonly name: string;
  readonly contentType: string;
  readonly image: boolean;
  readonly size: number;
  readonly createdAt: string;
}

/** Where attachments' bytes live. Every method is safe to call for ids that are not there. */
export interface BlobStore {
  /** `disk` or `postgres`. */
  readonly kind: 'disk' | 'postgres';
  /** Stores the bytes whole, or not at all (a reader never sees part of them). */
  put(id: string, data: Buffer): Promise<void>;
  /** The bytes, or undefined when there are none. */
  get(id: string): Promise<Buffer | undefined>;
  /** Removes the bytes of these ids. */
  delete(ids: readonly string[]): Promise<void>;
}

/** Only server-made ids name a blob (a UUID): nothing a client sends becomes a path. */
const BLOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Bytes as files in one directory, each named by its attachment id. */
export class DiskBlobStore implements BlobStore {
  readonly kind = 'disk' as const;

  /** Keeps files in `dir` (created when absent). */
  constructor(readonly dir: string) {}

  async put(id: string, data: Buffer): Promise<void> {
    const path = this.path(id);
    await mkdir(this.dir, { recursive: true });
    // Written aside, then renamed: a crash or a reader midway never sees a partial file.
    const temp = join(this.dir, `.${id}.${randomUUID()}.part`);
    try {
      await writeFile(temp, data, { flag: 'wx' });
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async get(id: string): Promise<Buffer | undefined> {
    if (!BLOB_ID.test(id)) return undefined;
    try {
      return await readFile(this.path(id));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async delete(ids: readonly string[]): Promise<void> {
    await Promise.all(ids.filter((id) => BLOB_ID.test(id)).map((id) => rm(this.path(id), { force: true })));
  }

  private path(id: string): string {
    if (!BLOB_ID.test(id)) throw new Error('Not an attachment id.');
    return join(this.dir, id);
  }
}

/** The types shown inline, and how their bytes begin. Never SVG (it can carry script). */
const IMAGE_SIGNATURES: Record<string, (b: Buffer) => boolean> = {
  'image/png': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (b) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/gif': (b) => ['GIF87a', 'GIF89a'].includes(b.subarray(0, 6).toString('latin1')),
  'image/webp': (b) =>
    b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
};

/**
 * What a file is served as: its declared type when that is a raster image type safe to show inline
 * (PNG, JPEG, GIF, WebP) and its bytes begin as that type does (`image: true`); a declared image
 * type whose bytes do not match becomes `application/octet-stream`; any other declared type is kept
 * for display but served as a download.
 */
export function classifyUpload(declared: string, data: Buffer): { contentType: string; image: boolean } {
  const type = declared.split(';')[0]!.trim().toLowerCase();
  const check = IMAGE_SIGNATURES[type];
  if (check) return check(data) ? { contentType: type, image: true } : { contentType: OCTET, image: false };
  if (type.startsWith('image/') || !/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(type))
    return { contentType: OCTET, image: false };
  return { contentType: type, image: false };
}

/** The type of anything served as a download. */
export const OCTET = 'application/octet-stream';

/** The URL an attachment is served at. */
export function attachmentUrl(id: string): string {
  return `/api/attachments/${encodeURIComponent(id)}`;
}

/** The URL an avatar (a blob in the same store) is served at. */
export function avatarUrl(avatarId: string): string {
  return `/api/avatars/${encodeURIComponent(avatarId)}`;
}

/** What a message carries of an attachment record. */
export function publicAttachment(a: AttachmentRecord): Attachment {
  const { id, roomId, name, size, contentType, image, url } = a;
  return { id, roomId, name, size, contentType, image, url };
}
