/**
 * Files in the conversation: a message's attachments (an image as a thumbnail, scaled by the
 * browser, that opens full size; any other file as a card with its name, size and type and a link
 * that downloads it under its name), and the composer's tray of files being attached (picked,
 * dropped or pasted), each with its upload progress.
 * @module
 */
import type { Attachment, Message } from '@switchboard/chat-contract';
import { attachmentObjectUrl, formatSize, uploadFile } from '../attachments.ts';
import type { Chat } from '../chat.ts';
import { h } from '../dom.ts';
import { openDialog } from './dialog.ts';

/** Rendered attachments by id: a re-render reuses them (no second fetch, no flicker). */
const rendered = new Map<string, HTMLElement>();

/** A message's files, or null when it has none. */
export function attachmentList(chat: Chat, message: Message): HTMLElement | null {
  const files = message.deleted ? [] : (message.attachments ?? []);
  if (files.length === 0) return null;
  return h(
    'div',
    { class: 'attachments' },
    ...files.map((file) => {
      let element = rendered.get(file.id);
      if (!element) {
        element = file.image ? imageItem(chat, file) : fileCard(chat, file);
        rendered.set(file.id, element);
      }
      return element;
    }),
  );
}

function imageItem(chat: Chat, file: Attachment): HTMLElement {
  const img = h('img', { alt: file.name, class: 'thumb', loading: 'lazy' });
  const problem = h('span', { class: 'hint' });
  const open = h(
    'button',
    {
      type: 'button',
      class: 'thumb-button',
      'aria-label': `Open ${file.name} full size`,
      onclick: () => void showFull(chat, file),
    },
    img,
  );
  attachmentObjectUrl(chat.token, file).then(
    (url) => img.setAttribute('src', url),
    (error: Error) => problem.replaceChildren(error.message),
  );
  return h(
    'figure',
    { class: 'attachment image', 'data-testid': 'attachment', 'data-attachment-id': file.id },
    open,
    h('figcaption', { dir: 'auto' }, `${file.name} · ${formatSize(file.size)}`, problem),
  );
}

async function showFull(chat: Chat, file: Attachment): Promise<void> {
  const img = h('img', { alt: file.name, class: 'full-image', 'data-testid': 'attachment-full' });
  const dialog = openDialog(file.name, 'attachment-viewer', img);
  try {
    img.setAttribute('src', await attachmentObjectUrl(chat.token, file));
  } catch (error) {
    dialog.error((error as Error).message);
  }
}

function fileCard(chat: Chat, file: Attachment): HTMLElement {
  const problem = h('span', { class: 'form-error', role: 'alert' });
  const link = h(
    'a',
    { href: file.url, download: file.name, class: 'download', 'data-key': `download-${file.id}` },
    'Download',
  );
  // The file needs the token: fetched on the first click, then the link downloads the copy.
  link.addEventListener('click', (event) => {
    if (link.href.startsWith('blob:')) return;
    event.preventDefault();
    attachmentObjectUrl(chat.token, file).then(
      (url) => {
        link.href = url;
        link.click();
      },
      (error: Error) => problem.replaceChildren(error.message),
    );
  });
  return h(
    'div',
    { class: 'attachment file', 'data-testid': 'attachment', 'data-attachment-id': file.id },
    h('span', { class: 'file-icon', 'aria-hidden': 'true' }, '📄'),
    h(
      'span',
      { class: 'file-meta' },
      h('span', { class: 'file-name', dir: 'auto' }, file.name),
      h('span', { class: 'hint' }, `${formatSize(file.size)} · ${file.contentType}`),
    ),
    link,
    problem,
  );
}

interface Upload {
  readonly key: number;
  readonly file: File;
  progress: number;
  attachment?: Attachment;
  error?: string;
  abort: () => void;
}

/** The composer's files: the picker, the tray of uploads, and what a send takes. */
export interface AttachTray {
  /** The "Attach" button with its `<input type=file>` (`attach-input`). */
  readonly picker: HTMLElement;
  /** The files being attached, with progress. */
  readonly tray: HTMLElement;
  /** Starts uploading files (dropped or pasted). */
  add(files: readonly File[]): void;
  /** The ids to send, or a reason to wait (an upload not finished or refused). */
  ready(): { ids: string[] } | { wait: string };
  /** Empties the tray after a send. */
  clear(): void;
}

/** The composer's attachments for a room. */
export function attachTray(chat: Chat, roomId: string, onChange: () => void = () => {}): AttachTray {
  let next = 0;
  const uploads: Upload[] = [];
  const input = h('input', { type: 'file', multiple: true, hidden: true, 'data-testid': 'attach-input' });
  const picker = h(
    'span',
    { class: 'attach' },
    h(
      'button',
      { type: 'button', 'aria-label': 'Attach files', title: 'Attach files', onclick: () => input.click() },
      '📎',
    ),
    input,
  );
  input.addEventListener('change', () => {
    add(Array.from(input.files ?? []));
    input.value = '';
  });
  const tray = h('ul', { class: 'upload-tray', 'aria-label': 'Files to send', hidden: true });
  const render = () => {
    tray.hidden = uploads.length === 0;
    tray.replaceChildren(
      ...uploads.map((u) =>
        h(
          'li',
          { class: `upload${u.error ? ' failed' : ''}`, 'data-testid': 'upload' },
          h('span', { class: 'file-name', dir: 'auto' }, u.file.name || 'pasted image'),
          u.error
            ? h('span', { class: 'form-error', role: 'alert' }, u.error)
            : u.attachment
              ? h('span', { class: 'hint' }, formatSize(u.attachment.size))
              : h('progress', {
                  max: 1,
                  value: u.progress,
                  'data-upload': u.key,
                  'aria-label': `Uploading ${u.file.name || 'pasted image'}`,
                }),
          h(
            'button',
            {
              type: 'button',
              class: 'icon',
              'aria-label': `Remove ${u.file.name || 'pasted image'}`,
              onclick: () => {
                u.abort();
                uploads.splice(uploads.indexOf(u), 1);
                render();
              },
            },
            '✕',
          ),
        ),
      ),
    );
    onChange();
  };
  const add = (files: readonly File[]) => {
    for (const file of files) {
      const { done, abort } = uploadFile(chat.token, roomId, file, (fraction) => {
        upload.progress = fraction;
        const bar = tray.querySelector<HTMLProgressElement>(`[data-upload="${upload.key}"]`);
        if (bar) bar.value = fraction;
        else render();
      });
      const upload: Upload = { key: next++, file, progress: 0, abort };
      uploads.push(upload);
      done.then(
        (attachment) => {
          upload.attachment = attachment;
          render();
        },
        (error: Error) => {
          upload.error = error.message;
          render();
        },
      );
    }
    render();
  };
  return {
    picker,
    tray,
    add,
    ready() {
      if (uploads.some((u) => u.error)) return { wait: 'Remove the files that could not be uploaded first.' };
      if (uploads.some((u) => !u.attachment)) return { wait: 'Wait for the files to finish uploading.' };
      return { ids: uploads.map((u) => u.attachment!.id) };
    },
    clear() {
      uploads.length = 0;
      render();
    },
  };
}

/** Pasted files (an image copied from another app) go to the tray. */
export function wireFileDrops(input: HTMLTextAreaElement, files: AttachTray): void {
  input.addEventListener('paste', (event) => {
    const pasted = Array.from(event.clipboardData?.files ?? []);
    if (pasted.length === 0) return;
    event.preventDefault();
    files.add(pasted);
  });
}

/** Files dropped anywhere on the conversation go to the tray. */
export function dropTarget(element: HTMLElement, files: AttachTray): void {
  const hasFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') ?? false;
  element.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    element.classList.add('dropping');
  });
  element.addEventListener('dragleave', (event) => {
    if (event.target === element) element.classList.remove('dropping');
  });
  element.addEventListener('drop', (event) => {
    element.classList.remove('dropping');
    if (!hasFiles(event)) return;
    event.preventDefault();
    files.add(Array.from(event.dataTransfer?.files ?? []));
  });
}
