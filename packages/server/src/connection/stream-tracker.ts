/**
 * The streams of one connection (docs/protocol.md#streaming): server-to-client streams that
 * run (for cancellation and duplicate ids) and client-to-server (upload) streams that receive items.
 * @module
 */
import {
  type CompletionMessage,
  type HubMessage,
  type InvocationMessage,
  MessageType,
  type StreamInvocationMessage,
  type StreamItemMessage,
} from '@switchboard/protocol';
import { HubException } from '../errors.js';
import type { HubCallerContext } from '../hubs/hub-caller-context.js';
import type { HubDispatcher } from '../hubs/hub-dispatcher.js';
import type { UploadStream } from '../hubs/upload-stream.js';
import type { Logger } from '../logger.js';
import type { HubMetrics } from '../metrics.js';

/** What the tracker needs from its connection. */
export interface StreamTrackerHost {
  readonly hubPath: string;
  readonly dispatcher: HubDispatcher;
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  /** Items one upload stream buffers before the connection stops reading. */
  readonly streamBufferCapacity: number;
  /** Writes a message; throws the protocol's error when it cannot be serialized. */
  write(message: HubMessage): void;
  /** Writes a Completion; one that cannot be serialized becomes an error Completion. */
  writeCompletion(completion: CompletionMessage, target: string): void;
  /** Whether unsent data is above the high-water mark (a stream waits before its next item). */
  backedUp(): boolean;
  /** An upload stream is full: stop reading the connection and hold what already arrived. */
  block(): void;
  /** No upload stream is full any more: read again. */
  unblock(): void;
}

/** The longest pause between two checks of a backed-up connection before a stream's next item. */
const DRAIN_POLL_MAX_MS = 16;

/**
 * The streams of one connection. Server-to-client streams don't take an invocation slot; each has
 * an AbortController that CancelInvocation or the connection's end aborts. Upload streams are
 * opened when their Invocation arrives and closed when its method finishes; while one is full the
 * connection stops reading (ASP.NET blocks its read loop on the channel the same way).
 */
export class StreamTracker {
  private readonly uploads = new Map<string, BufferedUploadStream>();
  private readonly uploadsByInvocation = new WeakMap<InvocationMessage, BufferedUploadStream[]>();
  private readonly running = new Map<string, AbortController>();
  private full = 0;

  constructor(
    private readonly connection: HubCallerContext,
    private readonly host: StreamTrackerHost,
  ) {
    connection.connectionAborted.addEventListener('abort', () => this.closeAll(), { once: true });
  }

  /** Whether an upload stream is full, so that the connection holds further messages. */
  get blocked(): boolean {
    return this.full > 0;
  }

  /** How many server-to-client streams run. */
  get runningStreams(): number {
    return this.running.size;
  }

  /** How many upload streams are open. */
  get openUploads(): number {
    return this.uploads.size;
  }

  // ---- upload streams ------------------------------------------------------------------------

  /**
   * Opens the upload streams of an Invocation as soon as it arrives, even when it waits for a slot,
   * so that the StreamItems that follow it are not lost.
   */
  open(message: InvocationMessage): void {
    if (message.streamIds?.length) this.uploadsByInvocation.set(message, this.openStreams(message.streamIds));
  }

  /** The upload streams opened for an Invocation (none when it has no streamIds). */
  uploadsOf(message: InvocationMessage): readonly UploadStream[] {
    return this.uploadsByInvocation.get(message) ?? [];
  }

  /** The Invocation's method finished: its streams still open are closed and later items dropped. */
  close(message: InvocationMessage): void {
    const streams = this.uploadsByInvocation.get(message);
    if (!streams) return;
    this.uploadsByInvocation.delete(message);
    this.closeStreams(streams);
  }

  /**
   * A StreamItem: into its upload stream's buffer. Unknown ids are ignored (docs/protocol.md#upload-streams).
   */
  item(message: StreamItemMessage): void {
    this.uploads.get(message.invocationId)?.push(message.item);
  }

  /**
   * A Completion that ends an upload stream (with `error`: the stream fails with
   * `HubException(<error>)`). Returns false when the id is not an open upload stream: then it may
   * answer a client result (13.11: upload streams are looked up first).
   */
  complete(message: CompletionMessage): boolean {
    const stream = this.uploads.get(message.invocationId);
    if (!stream) return false;
    this.uploads.delete(message.invocationId);
    stream.end(message.error !== undefined ? new HubException(message.error) : undefined);
    return true;
  }

  // ---- server-to-client streams ----------------------------------------------------------------

  /**
   * Runs a StreamInvocation: no invocation slot (docs/protocol.md#parallel-invocations), its own
   * signal for cancellation, items written with back-pressure, and one final Completion.
   */
  start(message: StreamInvocationMessage): void {
    const { invocationId, target } = message;
    if (this.running.has(invocationId)) {
      this.host.metrics.error(this.host.hubPath, 'SB_ERR_INVOCATION_ID_IN_USE');
      this.host.writeCompletion(
        {
          type: MessageType.Completion,
          invocationId,
          hasResult: false,
          error: `Invocation ID '${invocationId}' is already in use.`,
        },
        target,
      );
      return;
    }
    const controller = new AbortController();
    this.running.set(invocationId, controller);
    const uploads = message.streamIds?.length ? this.openStreams(message.streamIds) : [];
    const signal = controller.signal;
    this.host.dispatcher
      .invokeStream(this.connection, message, {
        signal,
        uploads,
        writeItem: (item) => this.writeItem(invocationId, item, signal),
      })
      .then(
        (completion) => {
          this.finish(invocationId, controller, uploads);
          this.host.writeCompletion(completion, target);
        },
        (error) => {
          this.finish(invocationId, controller, uploads);
          this.host.logger.error('stream.dispatch_failed', { hub: this.host.hubPath, error: error as Error });
        },
      );
  }

  /**
   * A CancelInvocation: aborts that stream's signal; unknown ids are ignored
   * (docs/protocol.md#stream-cancel).
   */
  cancel(invocationId: string): void {
    this.running.get(invocationId)?.abort(new Error(`The client canceled stream '${invocationId}'.`));
  }

  private finish(invocationId: string, controller: AbortController, uploads: BufferedUploadStream[]): void {
    if (this.running.get(invocationId) === controller) this.running.delete(invocationId);
    this.closeStreams(uploads);
  }

  private async writeItem(invocationId: string, item: unknown, signal: AbortSignal): Promise<void> {
    this.host.write({ type: MessageType.StreamItem, invocationId, item });
    // Back-pressure: wait for the client to read before producing more, instead of buffering.
    let wait = 1;
    while (!signal.aborted && this.host.backedUp()) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 2, DRAIN_POLL_MAX_MS);
    }
  }

  // ---- both ------------------------------------------------------------------------------------

  /** The connection ended: every stream's signal aborts and every upload stream fails. */
  private closeAll(): void {
    for (const controller of this.running.values()) controller.abort(new Error('The connection ended.'));
    this.running.clear();
    const failure = new Error('The connection ended before the stream completed.');
    for (const stream of this.uploads.values()) stream.fail(failure);
    this.uploads.clear();
  }

  private openStreams(ids: readonly string[]): BufferedUploadStream[] {
    return ids.map((id) => {
      const stream = new BufferedUploadStream(id, this.host.streamBufferCapacity, this);
      if (this.uploads.has(id) || this.running.has(id)) {
        this.host.metrics.error(this.host.hubPath, 'SB_ERR_INVOCATION_ID_IN_USE');
        stream.fail(new HubException(`Invocation ID '${id}' is already in use.`));
      } else {
        this.uploads.set(id, stream);
      }
      return stream;
    });
  }

  private closeStreams(streams: readonly BufferedUploadStream[]): void {
    for (const stream of streams) {
      if (this.uploads.get(stream.streamId) === stream) this.uploads.delete(stream.streamId);
      stream.close();
    }
  }

  /** @internal A stream's buffer reached its capacity. */
  streamFull(): void {
    if (this.full++ === 0) this.host.block();
  }

  /** @internal A full stream has room again (or closed). */
  streamDrained(): void {
    if (--this.full === 0) this.host.unblock();
  }
}

/** What an upload stream tells its tracker. */
interface BufferOwner {
  streamFull(): void;
  streamDrained(): void;
}

/**
 * An upload stream: a bounded buffer of items, read once with `for await`. The connection stops
 * reading while it is full, so it never holds more than its capacity.
 */
class BufferedUploadStream<T = unknown> implements UploadStream<T> {
  private readonly items: T[] = [];
  private done = false;
  private failure: { error: unknown } | undefined;
  private reader: { resolve(step: IteratorResult<T>): void; reject(error: unknown): void } | undefined;
  private isFull = false;
  private iterated = false;

  constructor(
    readonly streamId: string,
    private readonly capacity: number,
    private readonly owner: BufferOwner,
  ) {}

  get bufferedCount(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.done) return;
    if (this.reader) {
      const reader = this.reader;
      this.reader = undefined;
      reader.resolve({ value: item, done: false });
      return;
    }
    this.items.push(item);
    if (!this.isFull && this.items.length >= this.capacity) {
      this.isFull = true;
      this.owner.streamFull();
    }
  }

  /** The client completed the stream: the reader gets what is buffered, then the end or the error. */
  end(error?: unknown): void {
    if (this.done) return;
    this.done = true;
    if (error !== undefined) this.failure = { error };
    if (this.reader) this.settleReader();
  }

  /** Ends the stream with an error at once, dropping what is buffered. */
  fail(error: unknown): void {
    this.items.length = 0;
    this.notFull();
    this.done = false;
    this.end(error);
  }

  /** The method is done with the stream: drops what is buffered and ignores later items. */
  close(): void {
    this.items.length = 0;
    this.notFull();
    this.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.iterated) throw new Error(`Upload stream '${this.streamId}' can be read only once.`);
    this.iterated = true;
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) {
      const value = this.items.shift() as T;
      if (this.items.length < this.capacity) this.notFull();
      return Promise.resolve({ value, done: false });
    }
    if (this.done) return this.finalStep();
    if (this.reader) return Promise.reject(new Error('An upload stream is read by one reader at a time.'));
    return new Promise((resolve, reject) => {
      this.reader = { resolve, reject };
    });
  }

  private settleReader(): void {
    const reader = this.reader!;
    this.reader = undefined;
    this.finalStep().then(reader.resolve, reader.reject);
  }

  /** The end, or the failure once (then the end, as an iterator that threw is finished). */
  private finalStep(): Promise<IteratorResult<T>> {
    const failure = this.failure;
    if (failure) {
      this.failure = undefined;
      return Promise.reject(failure.error);
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  private notFull(): void {
    if (!this.isFull) return;
    this.isFull = false;
    this.owner.streamDrained();
  }
}
