/**
 * A client-to-server (upload) stream as a hub method receives it (docs/protocol.md#upload-streams).
 * @module
 */

/**
 * One stream the client sends to a hub method, item by item (the official client's `Subject`).
 * Read it with `for await`; the loop ends when the client completes the stream, and throws a
 * `HubException` carrying the client's error text when the client ends it with an error (so
 * an unhandled failure reaches the caller as
 * `An unexpected error occurred invoking '<M>' on the server. HubException: <error>`).
 *
 * At most `streamBufferCapacity` items (default 10) wait to be read; while a stream is full the
 * server stops reading the connection, so a slow reader slows the client down instead of
 * buffering without bound. A stream can be iterated once. When the hub method returns, its
 * streams are closed and later items are dropped.
 *
 * Where the stream parameters go: by default after the ordinary arguments, in the order the client
 * passed them; a method can declare their positions with `static methods = { m: { streams: [0] } }`
 * (see `HubMethodOptions.streams`).
 *
 * @example
 * ```ts
 * class UploadHub extends Hub {
 *   async concat(stream: UploadStream<string>) {
 *     let text = '';
 *     for await (const part of stream) text += part;
 *     return text;
 *   }
 * }
 * // client: const subject = new Subject<string>(); const done = connection.invoke('concat', subject);
 * //         subject.next('Hello '); subject.next('world'); subject.complete(); await done;
 * ```
 */
export interface UploadStream<T = unknown> extends AsyncIterable<T> {
  /** The id the client gave the stream. */
  readonly streamId: string;
  /** Items received and not read yet. */
  readonly bufferedCount: number;
}
