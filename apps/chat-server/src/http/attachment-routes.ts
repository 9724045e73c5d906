/**
 * `POST /api/rooms/{roomId}/attachments` (multipart/form-data, one part named `file`, a member's
 * bearer token) stores a file and answers `201 {attachment}`; `GET /api/attachments/{id}` serves it
 * to a member of its room. The body is parsed by busboy and held in memory up to
 * `MAX_ATTACHMENT_BYTES`: nothing is stored before the whole file arrived, so an upload cut halfway
 * or refused leaves nothing behind.
 *
 * Served files never run in the page: only a PNG, JPEG, GIF or WebP whose bytes match its type is
 * served inline as that type; anything else as `application/octet-stream` with
 * `Content-Disposition: attachment`; always `X-Content-Type-Options: nosniff` and a sandboxing CSP.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import busboy from 'busboy';
import type { AccountService } from '../domain/accounts.js';
import type { AttachmentService, UploadedFile } from '../domain/attachments.js';
import { invalid } from '../domain/validate.js';
import type { ChatError } from '../errors.js';
import { OCTET } from '../storage/attachments.js';
import { bearer, sendJson } from './json.js';
import type { Router } from './router.js';

/** Room for the multipart framing around the file (boundaries, part headers, small fields). */
const MULTIPART_OVERHEAD = 64 * 1024;

/** Adds the attachment routes to `router`. */
export function addAttachmentRoutes(
  router: Router,
  options: { accounts: AccountService; attachments: AttachmentService },
): void {
  const { accounts, attachments } = options;
  router
    .on('POST', '/api/rooms/:roomId/attachments', async ({ req, res, params }) => {
      const { user } = await accounts.authenticate(bearer(req));
      const room = await attachments.beginUpload(user, params.roomId);
      const max = attachments.limits.maxAttachmentBytes;
      if (Number(req.headers['content-length'] ?? 0) > max + MULTIPART_OVERHEAD) {
        // Refused before reading: the connection closes after the answer.
        res.setHeader('Connection', 'close');
        throw attachments.tooLarge();
      }
      const file = await readUpload(req, max, () => attachments.tooLarge());
      sendJson(res, 201, { attachment: await attachments.store(user, room, file) });
    })
    .on('GET', '/api/attachments/:id', async ({ req, res, params }) => {
      const { user } = await accounts.authenticate(bearer(req));
      const { attachment, data } = await attachments.open(user, params.id ?? '');
      serveFile(req, res, attachment, data);
    });
}

/** Writes a file with the headers that keep it from running in the page. */
function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: { name: string; contentType: string; image: boolean },
  data: Buffer,
): void {
  const disposition = file.image ? 'inline' : 'attachment';
  res.writeHead(200, {
    'Content-Type': file.image ? file.contentType : OCTET,
    'Content-Length': data.length,
    'Content-Disposition': `${disposition}; ${dispositionName(file.name)}`,
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Cache-Control': 'private, no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : data);
}

/** `filename="<ASCII fallback>"; filename*=UTF-8''<the name>` (RFC 6266). */
export function dispositionName(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  return `filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/**
 * Reads the one file part (`file`) of a multipart body whole. Refuses: not multipart, no file, a
 * second file, a file past `max` (with `tooLarge()`), a body that ends early or is cut off.
 */
export function readUpload(
  req: IncomingMessage,
  max: number,
  tooLarge: () => ChatError,
): Promise<UploadedFile> {
  return new Promise<UploadedFile>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        // Names are checked (a path separator is refused), not cut down to their last segment.
        preservePath: true,
        // Names as browsers send them: UTF-8.
        defParamCharset: 'utf8',
        // One byte more than allowed, so a file of exactly `max` bytes is not cut (the store checks).
        limits: { files: 1, fileSize: max + 1, fields: 10, fieldSize: 1024, parts: 12 },
      });
    } catch {
      reject(invalid('body', 'must be multipart/form-data with a part named "file"'));
      return;
    }
    let settled = false;
    const fail = (error: ChatError) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      req.resume(); // the rest of the body is read and dropped; the answer goes out once it is in
      reject(error);
    };
    let file: UploadedFile | undefined;
    let reading = false;
    parser.on('file', (field, stream, info) => {
      if (field !== 'file' || reading) {
        stream.resume();
        return;
      }
      reading = true;
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => fail(tooLarge()));
      stream.on('end', () => {
        if (!settled)
          file = {
            name: info.filename ?? '',
            declaredType: info.mimeType ?? OCTET,
            data: Buffer.concat(chunks),
          };
      });
    });
    parser.on('filesLimit', () => fail(invalid('file', 'one file per upload')));
    parser.on('partsLimit', () => fail(invalid('body', 'has too many parts')));
    parser.on('error', () => fail(invalid('body', 'is not a complete multipart/form-data body')));
    parser.on('close', () => {
      if (settled) return;
      if (!file) return fail(invalid('file', 'is required (a part named "file" with a filename)'));
      settled = true;
      resolve(file);
    });
    // A body cut off midway: nothing was stored, and nothing will be.
    req.on('close', () => {
      if (!req.complete) fail(invalid('body', 'the upload was cut off'));
    });
    req.pipe(parser);
  });
}
