/**
 * {@link QueuedBus}: what every bus that writes one publish at a time has in common (Redis, NATS),
 * written once: its counters, the channels it subscribed by the backend's name for them, the
 * bounded {@link PublishQueue} of the publishes that wait while the backend is unreachable, flush
 * and close, and errors reported to the core with the backend's name. A backend adds its
 * connections, how it subscribes, how it writes one publish and when it can.
 * @module
 */
import { backendError, newBusCounters, reportBusError } from './adapter-kit.js';
import type { Bus, BusContext, BusCounters, BusStatus } from './bus.js';
import { label } from './channel-sequencer.js';
import type { Channel } from './channels.js';
import type { BackplaneErrorCodeOnly } from './errors.js';
import { PublishQueue } from './publish-queue.js';

/** The base of a bus whose publishes go through a {@link PublishQueue}; see the module. */
export abstract class QueuedBus<T> implements Bus {
  /** The backend's name (`redis`, `nats`), in messages and health. */
  abstract readonly backend: string;
  readonly counters: BusCounters = newBusCounters();
  /** The subscribed channels by the backend's name for them. */
  protected readonly channels = new Map<string, Channel>();
  /** The publishes waiting for the backend, and those in flight. */
  protected readonly queue: PublishQueue<T>;
  /** Set by {@link close}: nothing is reported any more. */
  protected closed = false;

  /**
   * @param context the hub, the node and the core's receiver.
   * @param maxQueued publishes held while the backend is unreachable; past it the oldest is dropped.
   * @param describe names a dropped publish in the report (`a send to <channel>`).
   */
  constructor(
    protected readonly context: BusContext,
    maxQueued: number,
    describe: (item: T) => string,
  ) {
    this.queue = new PublishQueue<T>({
      maxQueued,
      writable: () => this.writable(),
      write: (item) => this.write(item),
      overflow: (dropped) =>
        this.report(
          'SB_ERR_BACKPLANE_QUEUE_OVERFLOW',
          `the publish queue is full while ${label(this.backend)} is unreachable; ${describe(dropped)} was dropped`,
        ),
      counters: this.counters,
    });
  }

  abstract subscribe(channel: Channel): Promise<void>;
  abstract unsubscribe(channel: Channel): Promise<void>;
  abstract publish(channel: Channel, payload: Uint8Array): Promise<number | undefined>;
  abstract ready(timeoutMs: number): Promise<void>;
  abstract status(): BusStatus;

  flush(): Promise<void> {
    return this.queue.flush();
  }

  /** Waits up to a second for the publishes in flight, then stops and {@link disconnect}s. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.close(1_000);
    this.closed = true;
    this.channels.clear();
    await this.disconnect();
  }

  /** Whether a publish can be written now (the backend's connection is up). */
  protected abstract writable(): boolean;
  /** Writes one publish: how many nodes received it live, or `undefined` (reported). Never rejects. */
  protected abstract write(item: T): Promise<number | undefined>;
  /** Closes the backend's connections (after the queue closed). */
  protected abstract disconnect(): Promise<void>;

  /** Counts a fault and hands it to the core, its message naming the backend (never once closed). */
  protected report(code: BackplaneErrorCodeOnly, what: string, cause?: unknown): void {
    if (!this.closed)
      reportBusError(this.context, this.counters, backendError(this.backend, code, what, cause));
  }
}
