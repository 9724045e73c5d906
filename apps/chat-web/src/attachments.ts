/**
 * Files over HTTP: uploads with progress (`POST /api/rooms/{roomId}/attachments`, XMLHttpRequest,
 * since fetch reports no upload progress) and fetches of a stored file with the bearer token
 * (`GET /api/attachments/{id}`), kept as object URLs for the page's life so a re-render shows them
 * again without another request.
 * @module
 */
import type { Attachment } from '@switchboard/chat-contract';

/** A refusal of an upload, with the server's code and words. */
export class UploadError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'UploadError';
  }
}

/** Uploads one file to a room, reporting the fraction sent (0 … 1); resolves to the stored file. */
export function uploadFile(
  token: string,
  roomId: string,
  file: File,
  onProgress: (fraction: number) => void,
): { done: Promise<Attachment>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const done = new Promise<Attachment>((resolve, reject) => {
    xhr.open('POST', `/api/rooms/${encodeURIComponent(roomId)}/attachments`);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      const body = xhr.response as { attachment?: Attachment; error?: { code: string; message: string } };
      if (xhr.status === 201 && body?.attachment) resolve(body.attachment);
      else
        reject(
          new UploadError(
            body?.error?.message ?? `The upload failed (${xhr.status}).`,
            body?.error?.code ?? 'SB_CHAT_INTERNAL',
          ),
        );
    });
    xhr.addEventListener('error', () =>
      reject(new UploadError('The upload failed: no connection to the server.', 'NETWORK')),
    );
    xhr.addEventListener('abort', () => reject(new UploadError('The upload was cancelled.', 'ABORTED')));
    const form = new FormData();
    form.append('file', file, file.name || 'pasted');
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}

const objectUrls = new Map<string, Promise<string>>();

/** An object URL of a stored file, fetched with the token once per page. */
export function attachmentObjectUrl(token: string, attachment: Attachment): Promise<string> {
  let url = objectUrls.get(attachment.id);
  if (!url) {
    url = fetch(attachment.url, { headers: { Authorization: `Bearer ${token}` } }).then(async (response) => {
      if (!response.ok) throw new Error(`The file could not be loaded (${response.status}).`);
      return URL.createObjectURL(await response.blob());
    });
    url.catch(() => objectUrls.delete(attachment.id));
    objectUrls.set(attachment.id, url);
  }
  return url;
}

/** A size in words: 512 B, 1.5 KB, 2.3 MB. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
