/**
 * The `Bus`: the transport a backend writes for the scale-out core (as socket.io's ClusterAdapter,
 * the backend writes only the transport). One bus per hub and node.
 *
 * Who does what:
 *
 * | | the core ({@link ScaleoutHubLifetimeManager}) | the backend (a {@link Bus}) |
 * |---|---|---|
 * | subscriptions | counts references: calls {@link Bus.subscribe} once when a channel is first needed, {@link Bus.unsubscribe} when the last need goes | subscribes, and resubscribes by itself after a reconnect |
 * | envelopes | encodes, decodes, checks the version, skips its own echo | carries bytes, never looks inside |
 * | exclusions | puts them in the envelope and applies them on delivery | may use {@link PublishOptions.excluded} to skip work; need not |
 * | duplicates | drops an envelope seen lately (origin node and number), so `sendGroups` and retried writes arrive once | nothing |
 * | replay log (when the bus has a {@link ReplayLog}) | tracks the last position delivered per channel; detects a gap from the entry's `previous`; reads the gap, then catches up every channel after {@link BusReceiver.reconnected}; holds live entries meanwhile; drops entries at or before its position; counts and reports losses | appends every publish to its channel's log in the same step as the live publish; gives each live entry its position and the previous entry's; reads the log from a position; trims by its window |
 * | no replay log | trusts the bus's order | delivers every entry of a channel once, in log order, catching up by itself after a reconnect, and reports what it lost with {@link BusReceiver.lost} |
 * | outages | serves local recipients, never waits on the bus in a send | queues publishes (bounded, oldest dropped and reported as `SB_ERR_BACKPLANE_QUEUE_OVERFLOW`) and reconnects |
 * | receivers | treats 0 receivers on a `connection` channel as "no node holds it" | says how many nodes subscribed to the channel got the publish live |
 * @module
 */
import type { Channel } from './channels.js';
import type { BackplaneError } from './errors.js';

/**
 * A position in a channel's replay log, as the backend writes it (a Redis stream id, a row id, a
 * JetStream sequence, as a string). Opaque to the core except through {@link ReplayLog.compare};
 * `''` is the position before the first entry (an empty log).
 */
export type LogPosition = string;

/** Where a live entry stands in its channel's log (buses with a {@link ReplayLog} only). */
export interface EntryPosition {
  /** The entry's own position. */
  readonly position: LogPosition;
  /**
   * The position of the entry before it in the same channel's log, `''` when the log was empty
   * before it. When it lies after the last position the core delivered, entries are missing: the
   * core reads them with {@link ReplayLog.read} before delivering this one.
   */
  readonly previous: LogPosition;
}

/** An entry read back from a channel's replay log. */
export interface LogEntry extends EntryPosition {
  /** The bytes published (an envelope). */
  readonly payload: Uint8Array;
}

/** What became of a position after a reconnect (see {@link ReplayLog.check}). */
export type PositionCheck = 'kept' | 'trimmed' | 'reset';

/**
 * A channel's replay log, kept by the backend and read by the core. Contract:
 * - Every publish is in the log of its channel, appended in the same step as the live publish,
 *   in the order the backend published; the live entry carries its position and the previous one.
 * - Entries leave the log only from its start (a window by age and count). An entry the core
 *   needs that left is a loss: the core counts it (`counters.lost`) and reports
 *   `SB_ERR_BACKPLANE_REPLAY_GAP`.
 */
export interface ReplayLog {
  /** Orders two positions of one channel: negative, zero or positive. `''` is before all others. */
  compare(a: LogPosition, b: LogPosition): number;
  /** The channel's last position now (`''` when its log is empty). Rejects when the backend is down. */
  tail(channel: Channel): Promise<LogPosition>;
  /**
   * Every entry of the channel after `after` (`''`: from the start of what is kept), in order.
   * Rejects when the backend is down (the core tries again on the next reconnect).
   */
  read(channel: Channel, after: LogPosition): Promise<readonly LogEntry[]>;
  /**
   * After a reconnect, before the catch-up: whether the log still holds `position` (`kept`), lost
   * it from its start (`trimmed`: the gap rule counts what is missing) or started anew
   * (`reset`: the backend restarted without persistence or was flushed; what it published before
   * and the node did not receive cannot be counted; the core reports `SB_ERR_BACKPLANE_LOG_RESET`).
   * Optional: without it the core cannot tell a reset from a quiet channel.
   */
  check?(channel: Channel, position: LogPosition): Promise<PositionCheck>;
}

/** Options of one {@link Bus.publish}. */
export interface PublishOptions {
  /**
   * The connection ids the send excludes. The core applies them on delivery from the envelope; a
   * backend may use them to skip nodes that hold only excluded connections.
   */
  readonly excluded?: readonly string[];
}

/** What a bus hands the core; called on the event loop, never re-entrantly from a core call. */
export interface BusReceiver {
  /**
   * An entry of a subscribed channel arrived. With a {@link ReplayLog}, `position` is required;
   * without one, the bus delivers each entry once and in order, and passes no position. The bus
   * may deliver the node's own publishes (the core skips them).
   */
  message(channel: Channel, payload: Uint8Array, position?: EntryPosition): void;
  /**
   * The transport came back after a loss and is about to subscribe again: call it before the
   * first resubscription, so that live entries arriving from then on wait for the catch-up
   * (a backend may deliver entries of a subscription before it resolves).
   */
  resubscribing(): void;
  /**
   * The transport came back after a loss and the subscriptions hold again: with a replay log, the
   * core checks and reads every subscribed channel from the last position it delivered.
   */
  reconnected(): void;
  /**
   * Entries a bus without a replay log knows it lost on a channel (its window passed them by):
   * counted and reported as `SB_ERR_BACKPLANE_REPLAY_GAP`.
   */
  lost(channel: Channel | undefined, count: number, detail: string): void;
  /** Any other backend fault, with a catalogue code; the message names the backend. */
  error(error: BackplaneError): void;
}

/** What a backend needs to build a hub's bus. */
export interface BusContext {
  /** The hub's path (its buses never see another hub's traffic). */
  readonly hubName: string;
  /** This node's id, unique in the cluster. */
  readonly nodeId: string;
  /** Where the bus hands what arrives. */
  readonly receiver: BusReceiver;
}

/** Builds the bus of one hub on one node. */
export type BusFactory = (context: BusContext) => Bus;

/** Traffic counters a bus keeps about itself (the core adds its own; see `ScaleoutCounters`). */
export interface BusCounters {
  /** Entries received on the live path, the node's own echoes included. */
  messagesReceived: number;
  /** Bytes of those entries. */
  bytesReceived: number;
  /** Entries published (appended and sent). */
  published: number;
  /** Publishes that waited in the queue because the backend was unreachable. */
  queued: number;
  /** Publishes dropped because the queue was full while the backend was unreachable. */
  queueOverflows: number;
  /** Reconnects of the transport (each followed by {@link BusReceiver.reconnected}). */
  reconnects: number;
  /** Errors the bus reported. */
  errors: number;
  /**
   * Entries delivered by the bus's own catch-up after a reconnect. Only a bus without a
   * {@link ReplayLog} counts it (it catches up by itself); the core adds it to its own `replayed`
   * (entries it read from a replay log).
   */
  replayed?: number;
}

/** The live state of a bus, for `/readyz` and `/metrics`. */
export interface BusStatus {
  /** Whether the transport is up (publishes go out now, subscriptions hold). */
  readonly connected: boolean;
  /** Publishes waiting for the backend. */
  readonly queued: number;
}

/**
 * The transport of one hub on one node. Contract:
 * - {@link publish} never rejects and never waits for the backend to come back: it queues (bounded)
 *   and resolves once written, with how many nodes subscribed to the channel received it live
 *   (0 must be exact for `connection` channels: the core then knows no node holds that
 *   connection), or `undefined` when the publish was dropped or failed (already reported).
 * - Order: the publishes of one node to one channel arrive in the order made.
 * - {@link subscribe} resolves once entries published after it are delivered (with a replay log:
 *   once the subscription holds; the core reads the tail itself). Called at most once per channel
 *   until {@link unsubscribe}; never rejects (a failure is reported, and the next reconnect
 *   subscribes).
 * - After a reconnect the bus calls {@link BusReceiver.resubscribing}, resubscribes every channel,
 *   then calls {@link BusReceiver.reconnected}.
 */
export interface Bus {
  /** The backend's name, for messages and health (`redis`, `postgres`, `nats`, `loopback`). */
  readonly backend: string;
  /** The replay log, when the backend keeps one per channel (see the table above). */
  readonly log?: ReplayLog;
  /** Starts receiving a channel. */
  subscribe(channel: Channel): Promise<void>;
  /** Stops receiving a channel. */
  unsubscribe(channel: Channel): Promise<void>;
  /** Sends bytes to every node subscribed to a channel (and appends them to its log). */
  publish(channel: Channel, payload: Uint8Array, options?: PublishOptions): Promise<number | undefined>;
  /** Resolves once the transport is up and the subscriptions made so far hold, or after `timeoutMs`. */
  ready(timeoutMs: number): Promise<void>;
  /** Resolves once every publish made so far has been written (or dropped). */
  flush(): Promise<void>;
  /** Closes the transport; queued publishes resolve `undefined`. Calling it twice is harmless. */
  close(): Promise<void>;
  /** The live state. */
  status(): BusStatus;
  /** The bus's own counters (live object or snapshot). */
  readonly counters: Readonly<BusCounters>;
}
