/**
 * The core's side of a bus: subscriptions counted by reference, and per channel the delivery rules
 * of docs/scale-out.md (decode and check the version, skip the node's own echo, drop what was
 * delivered, replay a gap from the log before delivering further, catch up after any reconnect).
 * The backend only transports ({@link Bus}).
 * @module
 */
import type { Bus, BusReceiver, EntryPosition, LogPosition } from './bus.js';
import { type Channel, channelName } from './channels.js';
import { decodeEnvelope, type Envelope } from './envelope.js';
import { BackplaneError, type BackplaneErrorCodeOnly } from './errors.js';

/** What the sequencer counts (part of `ScaleoutCounters`). */
export interface SequencerCounters {
  replayed: number;
  duplicatesDropped: number;
  lost: number;
  logResets: number;
  unknownVersions: number;
  errors: number;
}

interface ChannelState {
  readonly channel: Channel;
  refs: number;
  /** The last log position delivered; undefined until the tail was read. */
  last: LogPosition | undefined;
  /** A catch-up runs: live entries wait in `pending`. */
  busy: boolean;
  /** A reconnect happened during the catch-up: run it again. */
  again: boolean;
  /** The next catch-up first checks that the log still holds `last` (set at each reconnect). */
  verify: boolean;
  readonly pending: { payload: Uint8Array; position: EntryPosition }[];
  /** Settles once the first subscribe and the tail read are done (or failed, reported). */
  ready: Promise<void>;
}

/** Options of a {@link ChannelSequencer}. */
export interface ChannelSequencerOptions {
  readonly nodeId: string;
  /** Receives every envelope of a subscribed channel once, in log order, except the node's own. */
  readonly handler: (channel: Channel, envelope: Envelope) => void;
  /** Receives every fault (already counted). */
  readonly onError: (error: BackplaneError) => void;
  /** The clock of the duplicate-drop window, ms. Default `Date.now`. */
  readonly now?: () => number;
}

/** At most this many envelope ids are remembered for the duplicate drop. */
export const SEEN_LIMIT = 10_000;
/**
 * How long an envelope id is remembered, ms: a copy arriving later on another channel (a send to
 * several groups) or from a retried write is dropped within this window. Five minutes is far longer
 * than a retry or a catch-up between two live channels takes, and short enough that the window
 * reaches its steady size within minutes at any rate of sends, instead of growing until the count
 * limit (which at a few sends a second took hours).
 */
export const SEEN_TTL_MS = 300_000;

/** The subscriptions and delivery rules of one hub on one node; the bus's {@link BusReceiver}. */
export class ChannelSequencer implements BusReceiver {
  /** What the core counted (`errors`: the faults it found itself; the bus counts its own). */
  readonly counters: SequencerCounters = {
    replayed: 0,
    duplicatesDropped: 0,
    lost: 0,
    logResets: 0,
    unknownVersions: 0,
    errors: 0,
  };
  private readonly channels = new Map<string, ChannelState>();
  /**
   * Envelope ids (`origin:number`) delivered lately, with when, oldest first: sendGroups and
   * retried writes arrive once.
   */
  private readonly seen = new Map<string, number>();
  private bus: Bus | undefined;
  private closed = false;
  private backend = 'bus';

  constructor(private readonly options: ChannelSequencerOptions) {}

  /** Binds the bus (built with this sequencer as its receiver). */
  attach(bus: Bus): void {
    this.bus = bus;
    this.backend = bus.backend;
  }

  /** How many envelope ids the duplicate-drop window holds now. */
  get seenCount(): number {
    return this.seen.size;
  }

  /** How many channels the node subscribes to. */
  get subscribedChannels(): number {
    return this.channels.size;
  }

  /** Whether every channel knows its position and no catch-up runs. */
  get settled(): boolean {
    if (!this.bus?.log) return true;
    for (const s of this.channels.values())
      if (s.busy || s.last === undefined || s.pending.length > 0) return false;
    return true;
  }

  /**
   * Subscribes to a channel (counted by reference). Resolves once the subscription holds and (with
   * a log) the log's tail is known, or once that failed (reported; the next reconnect retries).
   */
  async subscribe(channel: Channel): Promise<void> {
    const name = channelName(channel);
    const existing = this.channels.get(name);
    if (existing) {
      existing.refs++;
      // A second reference holds only once the first one's subscription does.
      await existing.ready;
      return;
    }
    const state: ChannelState = {
      channel,
      refs: 1,
      last: undefined,
      busy: false,
      again: false,
      verify: false,
      pending: [],
      ready: Promise.resolve(),
    };
    this.channels.set(name, state);
    const bus = this.bus!;
    state.ready = bus.subscribe(channel).then(() => {
      if (bus.log && this.channels.get(name) === state) return this.catchUp(state);
    });
    await state.ready;
  }

  /** Drops one reference; unsubscribes with the last. */
  async unsubscribe(channel: Channel): Promise<void> {
    const name = channelName(channel);
    const state = this.channels.get(name);
    if (!state || --state.refs > 0) return;
    this.channels.delete(name);
    await this.bus!.unsubscribe(channel);
  }

  /** Adds an envelope id to the window and forgets those older than the window or past its size. */
  private remember(key: string): void {
    const now = (this.options.now ?? Date.now)();
    this.seen.set(key, now);
    const oldest = now - SEEN_TTL_MS;
    for (const [id, at] of this.seen) {
      if (at > oldest && this.seen.size <= SEEN_LIMIT) break;
      this.seen.delete(id);
    }
  }

  /** Stops delivering and reporting. */
  close(): void {
    this.closed = true;
    this.channels.clear();
  }

  // ---- BusReceiver ---------------------------------------------------------------------------

  message(channel: Channel, payload: Uint8Array, position?: EntryPosition): void {
    if (this.closed) return;
    const state = this.channels.get(channelName(channel));
    if (!state) return;
    if (!this.bus?.log || position === undefined) {
      this.deliver(state, payload);
      return;
    }
    if (state.busy || state.last === undefined || state.pending.length > 0 || state.verify) {
      // Behind a catch-up (running, due after a reconnect, or failed and waiting for the backend):
      // keep the order, and let the catch-up see the log as the reconnect found it first.
      state.pending.push({ payload, position });
      if (!state.busy && state.last !== undefined) void this.catchUp(state);
    } else this.process(state, payload, position, false);
  }

  resubscribing(): void {
    if (this.closed || !this.bus?.log) return;
    // Live entries wait from now on: the catch-up first sees the log as the reconnect found it.
    for (const state of this.channels.values()) if (state.last !== undefined) state.verify = true;
  }

  reconnected(): void {
    if (this.closed || !this.bus?.log) return;
    for (const state of this.channels.values()) {
      if (state.last !== undefined) state.verify = true;
      void this.catchUp(state);
    }
  }

  lost(channel: Channel | undefined, count: number, detail: string): void {
    this.counters.lost += count;
    this.report(
      'SB_ERR_BACKPLANE_REPLAY_GAP',
      `${channel ? `${channelName(channel)}: ` : ''}${detail}`,
      undefined,
    );
  }

  error(error: BackplaneError): void {
    if (this.closed) return;
    this.emit(error); // counted by the bus
  }

  // ---- delivery rules ------------------------------------------------------------------------

  /** Live-path rules: drop what was delivered, replay a gap first, else deliver. */
  private process(state: ChannelState, payload: Uint8Array, at: EntryPosition, afterCatchUp: boolean): void {
    const log = this.bus!.log!;
    const last = state.last!;
    if (compare(log, at.position, last) <= 0) {
      this.counters.duplicatesDropped++;
      return;
    }
    if (at.previous !== '' && compare(log, at.previous, last) > 0) {
      if (!afterCatchUp) {
        state.pending.unshift({ payload, position: at });
        void this.catchUp(state);
        return;
      }
      this.reportLoss(state, last, at.previous);
    }
    state.last = at.position;
    this.deliver(state, payload);
  }

  /**
   * Reads the log from the last delivered position (or, the first time, its tail), delivers what
   * is missing in order, then the entries that waited. Runs once at a time per channel.
   */
  private async catchUp(state: ChannelState): Promise<void> {
    if (state.busy) {
      state.again = true;
      return;
    }
    const log = this.bus!.log!;
    const name = channelName(state.channel);
    state.busy = true;
    try {
      do {
        state.again = false;
        if (state.last === undefined) {
          const tail = await log.tail(state.channel);
          // What arrived live since the subscription held is after it: deliver it, even when the
          // tail read (later) already counts it.
          state.last ??= state.pending[0]?.position.previous ?? tail;
        } else {
          if (state.verify) {
            await this.checkKept(state, state.last);
            state.verify = false; // kept when the check failed: the next catch-up checks again
          }
          for (const entry of await log.read(state.channel, state.last)) {
            if (this.channels.get(name) !== state || this.closed) return;
            if (compare(log, entry.position, state.last) <= 0) continue;
            if (entry.previous !== '' && compare(log, entry.previous, state.last) > 0)
              this.reportLoss(state, state.last, entry.previous);
            this.counters.replayed++;
            state.last = entry.position;
            this.deliver(state, entry.payload);
          }
        }
      } while (state.again);
      state.busy = false;
      while (state.pending.length > 0 && !state.busy) {
        const next = state.pending.shift()!;
        this.process(state, next.payload, next.position, true);
      }
    } catch (error) {
      // The backend went away mid-read: the entries stay pending, the next reconnect runs this again.
      state.busy = false;
      this.report('SB_ERR_BACKPLANE_UNAVAILABLE', `replay of ${name}`, error);
    }
  }

  private async checkKept(state: ChannelState, position: LogPosition): Promise<void> {
    const log = this.bus!.log!;
    if (position === '' || !log.check) return;
    if ((await log.check(state.channel, position)) !== 'reset') return;
    this.counters.logResets++;
    this.report(
      'SB_ERR_BACKPLANE_LOG_RESET',
      `${channelName(state.channel)}: the log no longer holds ${position} and starts anew (the backend restarted without persistence or was flushed); sends published before that and not received live cannot be replayed`,
      undefined,
    );
  }

  private deliver(state: ChannelState, payload: Uint8Array): void {
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(payload);
    } catch (error) {
      this.counters.unknownVersions++;
      this.report(
        'SB_ERR_BACKPLANE_ENVELOPE_VERSION',
        `${channelName(state.channel)}: ${(error as Error).message}; not delivered`,
        error,
      );
      return;
    }
    if (envelope.o === this.options.nodeId) return; // our own echo: served locally already
    const key = `${envelope.o}:${envelope.n}`;
    if (this.seen.has(key)) {
      this.counters.duplicatesDropped++;
      return;
    }
    this.remember(key);
    try {
      this.options.handler(state.channel, envelope);
    } catch (error) {
      this.report(
        'SB_ERR_BACKPLANE_UNAVAILABLE',
        `handling a message of ${channelName(state.channel)}`,
        error,
      );
    }
  }

  private reportLoss(state: ChannelState, from: LogPosition, to: LogPosition): void {
    this.counters.lost++;
    this.report(
      'SB_ERR_BACKPLANE_REPLAY_GAP',
      `${channelName(state.channel)}: entries after ${from || 'the start'} up to ${to} left the replay window`,
      undefined,
    );
  }

  /** Counts (`errors`) and reports a fault the core found. */
  private report(code: BackplaneErrorCodeOnly, what: string, cause: unknown): void {
    if (this.closed) return;
    this.counters.errors++;
    const detail =
      cause instanceof Error && code !== 'SB_ERR_BACKPLANE_ENVELOPE_VERSION' ? `: ${cause.message}` : '';
    this.emit(
      new BackplaneError(code, `${label(this.backend)}: ${what}${detail}`, { cause, backend: this.backend }),
    );
  }

  private emit(error: BackplaneError): void {
    try {
      this.options.onError(error);
    } catch {
      // a throwing hook must not take the node down
    }
  }
}

/** `''` (before the first entry) is before every position; else the log's own order. */
function compare(log: NonNullable<Bus['log']>, a: LogPosition, b: LogPosition): number {
  if (a === b) return 0;
  if (a === '') return -1;
  if (b === '') return 1;
  return log.compare(a, b);
}

/** The backend's name as messages show it. */
export function label(backend: string): string {
  switch (backend) {
    case 'redis':
      return 'Redis';
    case 'postgres':
      return 'PostgreSQL';
    case 'nats':
      return 'NATS';
    case 'loopback':
      return 'Loopback';
    default:
      return backend;
  }
}
