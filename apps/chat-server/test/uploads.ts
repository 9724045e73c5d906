/**
 * File uploads and downloads against a chat server, for the attachment, avatar and room tests:
 * multipart bodies built by hand (names are sent as given), room attachments, avatars, raw
 * uploads that are sent in chunks or cut off halfway, downloads, and the SQLite blob directory.
 */
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { ChatTestServer, Wire } from './helpers.ts';

/** A multipart/form-data body and the Content-Type header that names its boundary. */
export interface MultipartBody {
  readonly body: Buffer;
  readonly contentType: string;
}

/** A multipart/form-data body with one file part in the form field `field` (`file` by default). */
export function multipart(filename: string, type: string, data: Buffer, field = 'file'): MultipartBody {
  const boundary = `----sb${Math.random().toString(36).slice(2)}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`;
  const body = Buffer.concat([Buffer.from(head), data, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

/**
 * Sends a multipart body to `path` with `method`, with a bearer token when given; answers the
 * status and the JSON body.
 */
export async function sendMultipart(
  server: ChatTestServer,
  method: string,
  path: string,
  token: string | undefined,
  part: MultipartBody,
): Promise<{ status: number; body: Wire }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'Content-Type': part.contentType, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: new Uint8Array(part.body),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * Uploads one file to a room (`POST /api/rooms/{id}/attachments`); by default `a.txt`, plain
 * text, `hello`.
 */
export function uploadAttachment(
  server: ChatTestServer,
  roomId: string,
  token: string | undefined,
  filename = 'a.txt',
  type = 'text/plain',
  data: Buffer = Buffer.from('hello'),
): Promise<{ status: number; body: Wire }> {
  return sendMultipart(
    server,
    'POST',
    `/api/rooms/${roomId}/attachments`,
    token,
    multipart(filename, type, data),
  );
}

/** Sets a user's avatar (`PUT /api/users/{id}/avatar`). */
export function putAvatar(
  server: ChatTestServer,
  userId: string,
  token: string | undefined,
  type: string,
  data: Buffer,
  filename = 'me.png',
): Promise<{ status: number; body: Wire }> {
  return sendMultipart(server, 'PUT', `/api/users/${userId}/avatar`, token, multipart(filename, type, data));
}

/** GETs `url` (a path on the server), with a bearer token when given: status, headers, bytes. */
export async function download(
  server: ChatTestServer,
  url: string,
  token?: string,
): Promise<{ status: number; headers: Headers; data: Buffer }> {
  const response = await fetch(`${server.url}${url}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  return {
    status: response.status,
    headers: response.headers,
    data: Buffer.from(await response.arrayBuffer()),
  };
}

/**
 * Sends a multipart body to `path` over a raw HTTP request: without `cutAfter`, in chunks of 1,000
 * bytes and without a Content-Length (answers the status); with it, announcing the whole length
 * but sending only the first `cutAfter` bytes before dropping the connection (answers `cut` when
 * the request fails, or the status if the server answered first).
 */
export function rawUpload(
  server: ChatTestServer,
  method: string,
  path: string,
  token: string,
  part: MultipartBody,
  cutAfter?: number,
): Promise<number | 'cut'> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, {
      method,
      headers: {
        'Content-Type': part.contentType,
        Authorization: `Bearer ${token}`,
        ...(cutAfter === undefined ? {} : { 'Content-Length': String(part.body.length) }),
      },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error) => (cutAfter === undefined ? reject(error) : resolve('cut')));
    if (cutAfter === undefined) {
      for (let i = 0; i < part.body.length; i += 1000) req.write(part.body.subarray(i, i + 1000));
      req.end();
    } else {
      req.write(part.body.subarray(0, cutAfter), () => setTimeout(() => req.destroy(), 100));
    }
  });
}

/**
 * The files in a SQLite server's blob directory: `all` of them, or only the `stored` ones (not
 * the files an upload still in progress writes aside, whose names begin with a dot).
 */
export function blobFiles(server: ChatTestServer, which: 'all' | 'stored' = 'all'): string[] {
  const dir = join(server.dataDir, 'attachments');
  const files = existsSync(dir) ? readdirSync(dir) : [];
  return which === 'all' ? files : files.filter((f) => !f.startsWith('.'));
}
