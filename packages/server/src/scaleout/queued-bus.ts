/**
 * {@link BusBase}: what every bus has in common, written once: its context and counters, and its
 * faults counted and handed to the core with the backend's name (never once closed).
 * {@link QueuedBus}: what every bus that writes one publish at a time has in common besides
 * (Redis, NATS): the channels it subscribed by the backend's name for them, the bounded
 * {@link PublishQueue} of the publishes that wait while the backend is unreachable, flush and
 * close. A backend adds its connections, how it subscribes, how it writes one publish and when it
 * can.
 * @module
 */
import { backendError, newBusCounters, reportBusError } from './adapter-kit.js';
import type { Bus, BusContext, BusCounters, BusStatus } from './bus.js';
import { label } from './channel-sequencer.js';
import type { Channel } from './channels.js';
import type { BackplaneError, BackplaneErrorCodeOnly } from './errors.js';
import { PublishQueue } from './publish-queue.js';

/** The base of every bus: its context, its counters and its reports; see the module. */
export abstract class BusBase<C extends BusCounters = BusCounters> implements Bus {
  /** The backend's name (`redis`, `postgres`, `nats`), in messages and health. */
  abstract readonly backend: string;
  /** Set when the bus closes: nothing is reported any more. */
  protected closed = false;

  /**
   * @param context the hub, the node and the core's receiver.
   * @param counters the bus's counters (`newBusCounters()`, or a larger set).
   */
  constructor(
    protected readonly context: BusContext,
    readonly counters: C,
  ) {}

  abstract subscribe(channel: Channel): Promise<void>;
  abstract unsubscribe(channel: Channel): Promise<void>;
  abstract publish(channel: Channel, payload: Uint8Array): Promise<number | undefined>;
  abstract ready(timeoutMs: number): Promise<void>;
  abstract flush(): Promise<void>;
  abstract close(): Promise<void>;
  abstract status(): BusStatus;

  /** Counts a fault and hands it to the core, its message naming the backend (never once closed). */
  protected report(code: BackplaneErrorCodeOnly, what: string, cause?: unknown): void {
    this.emit(backendError(this.backend, code, what, cause));
  }

  /** Counts a fault the bus has as a {@link BackplaneError} and hands it to the core (never once closed). */
  protected emit(error: BackplaneError): void {
    if (!this.closed) reportBusError(this.context, this.counters, error);
  }
}

/** The base of a bus whose publishes go through a {@link PublishQueue}; see the module. */
export abstract class QueuedBus<T> extends BusBase {
  /** The subscribed channels by the backend's name for them. */
  protected readonly channels = new Map<string, Channel>();
  /** The publishes waiting for the backend, and those in flight. */
  protected readonly queue: PublishQueue<T>;

  /**
   * @param context the hub, the node and the core's receiver.
   * @param maxQueued publishes held while the backend is unreachable; past it the oldest is dropped.
   * @param describe names a dropped publish in the report (`a send to <channel>`).
   */
  constructor(context: BusContext, maxQueued: number, describe: (item: T) => string) {
    super(context, newBusCounters());
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
}
