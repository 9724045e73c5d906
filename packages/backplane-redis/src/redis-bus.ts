/**
 * The bus under the lifetime manager: two ioredis connections (commands and pub/sub), the publish
 * queue used while Redis is unreachable, reference-counted subscriptions, and per channel the
 * ordering rules of docs/scale-out.md (drop what was seen, replay a gap from the log, catch up
 * after any reconnect).
 * @module
 */
import { Redis, type RedisOptions } from 'ioredis';
import { compareIds, decodeEnvelope, type Envelope, parseLiveFrame } from './envelope.js';
import { BackplaneError } from './errors.js';
import { PUBLISH_SCRIPT } from './scripts.js';

/** What a node counts about its bus traffic (for tests and metrics). */
export interface BusCounters {
  /** Frames received on the live path, including the node's own echoes. */
  messagesReceived: number;
  /** Bytes of those frames. */
  bytesReceived: number;
  /** Messages delivered from a log replay (a gap, or a catch-up after a reconnect). */
  replayed: number;
  /** Frames and entries dropped because they had been delivered already. */
  duplicatesDropped: number;
  /** Messages known lost: a gap the replay window no longer covered. */
  lost: number;
  /** Envelopes appended and published. */
  published: number;
  /** Sends that waited in the queue because Redis was unreachable. */
  queued: number;
  /** Sends dropped because the queue was full while Redis was unreachable. */
  queueOverflows: number;
  /** Reconnects of the pub/sub connection (each followed by a resubscribe and a catch-up). */
  reconnects: number;
  /**
   * Channel logs found emptied after a reconnect (Redis restarted without persistence, or was
   * flushed): what Redis published before that and this node had not received cannot be replayed.
   */
  logResets: number;
  /** Errors reported to onError. */
  errors: number;
}

/** Options of {@link RedisBus}. */
export interface RedisBusOptions {
  readonly redis: RedisOptions | string | undefined;
  /** Names the connections (`CLIENT SETNAME`): `<name>:pub` and `<name>:sub`. */
  readonly connectionName: string;
  readonly nodeId: string;
  readonly maxLen: number;
  readonly maxAgeMs: number;
  readonly maxQueuedPublishes: number;
  readonly onError: (error: BackplaneError) => void;
  /** Receives every envelope of a subscribed channel once, in log order, except the node's own. */
  readonly handler: (channel: string, envelope: Envelope) => void;
}

interface ChannelState {
  refs: number;
  /** The last log id delivered; undefined until the tail was read; '0-0' when the log was empty. */
  lastId: string | undefined;
  /** A catch-up runs: live frames wait in `pending`. */
  busy: boolean;
  /** A reconnect happened during the catch-up: run it again. */
  again: boolean;
  /** The next catch-up first checks that the log still holds `lastId` (set at each reconnect). */
  verify: boolean;
  readonly pending: Buffer[];
  /** Settles once the first SUBSCRIBE and the tail read are done (or failed, reported). */
  ready: Promise<void>;
}

interface QueuedPublish {
  readonly channel: string;
  readonly payload: Buffer;
  readonly resolve: (receivers: number | undefined) => void;
}

type PublishCommand = (
  key: string,
  channel: string,
  payload: Buffer,
  maxLen: number,
  maxAgeMs: number,
) => Promise<[string, number]>;

const SEEN_LIMIT = 10_000;

/** Two Redis connections and the delivery rules of one node. */
export class RedisBus {
  readonly counters: BusCounters = {
    messagesReceived: 0,
    bytesReceived: 0,
    replayed: 0,
    duplicatesDropped: 0,
    lost: 0,
    published: 0,
    queued: 0,
    queueOverflows: 0,
    reconnects: 0,
    logResets: 0,
    errors: 0,
  };
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly channels = new Map<string, ChannelState>();
  private readonly queue: QueuedPublish[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Envelope ids (`origin:number`) delivered lately: sendGroups and retried writes arrive once. */
  private readonly seen = new Set<string>();
  private subReadyBefore = false;
  private closed = false;

  constructor(private readonly options: RedisBusOptions) {
    const base: RedisOptions = {
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: false,
    };
    this.pub = connect(options.redis, { ...base, connectionName: `${options.connectionName}:pub` });
    this.sub = connect(options.redis, { ...base, connectionName: `${options.connectionName}:sub` });
    this.pub.defineCommand('sbPublish', { numberOfKeys: 1, lua: PUBLISH_SCRIPT });
    this.pub.on('error', (e) => this.report('SB_ERR_BACKPLANE_REDIS', 'Redis command connection', e));
    this.sub.on('error', (e) => this.report('SB_ERR_BACKPLANE_REDIS', 'Redis pub/sub connection', e));
    this.pub.on('ready', () => this.onPubReady());
    this.sub.on('ready', () => this.onSubReady());
    this.sub.on('messageBuffer', (channel: Buffer, frame: Buffer) => this.onFrame(channel.toString(), frame));
  }

  /** How many channels this node subscribes to. */
  get subscribedChannels(): number {
    return this.channels.size;
  }

  /** Whether both connections (commands and pub/sub) are up. */
  get connected(): boolean {
    return this.sub.status === 'ready' && this.pub.status === 'ready';
  }

  /**
   * Appends an envelope to a channel's log and publishes it; resolves with the number of
   * subscribers that received it live, or undefined when it was dropped or failed (reported).
   * Never rejects. While Redis is unreachable the write waits in a bounded queue.
   */
  publish(channel: string, payload: Buffer): Promise<number | undefined> {
    return new Promise((resolve) => {
      const item: QueuedPublish = { channel, payload, resolve };
      if (this.pub.status === 'ready' && this.queue.length === 0) {
        this.write(item);
        return;
      }
      if (this.queue.length >= this.options.maxQueuedPublishes) {
        const dropped = this.queue.shift()!;
        this.counters.queueOverflows++;
        this.report(
          'SB_ERR_BACKPLANE_QUEUE_OVERFLOW',
          `publish queue full; a send to ${dropped.channel} dropped`,
        );
        dropped.resolve(undefined);
      }
      this.queue.push(item);
      this.counters.queued++;
    });
  }

  /** Resolves once every publish so far has been written (or failed). */
  async idle(): Promise<void> {
    while ((this.queue.length > 0 && !this.closed) || this.inFlight.size > 0) {
      if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Resolves once the pub/sub connection is up and every subscribed channel knows its log position
   * and has no catch-up running, or after `timeoutMs`.
   */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const busy = () =>
      this.sub.status !== 'ready' ||
      [...this.channels.values()].some((s) => s.busy || s.lastId === undefined || s.pending.length > 0);
    while (busy() && Date.now() < deadline && !this.closed) await new Promise((r) => setTimeout(r, 5));
  }

  /**
   * Subscribes to a channel (counted by reference). Resolves once the subscription holds and the
   * log's tail is known, or at once while Redis is unreachable (the reconnect subscribes).
   */
  async subscribe(channel: string): Promise<void> {
    const existing = this.channels.get(channel);
    if (existing) {
      existing.refs++;
      // A second reference holds only once the first one's subscription does.
      await existing.ready;
      return;
    }
    const state: ChannelState = {
      refs: 1,
      lastId: undefined,
      busy: false,
      again: false,
      pending: [],
      ready: Promise.resolve(),
      verify: false,
    };
    this.channels.set(channel, state);
    if (this.sub.status !== 'ready') return;
    state.ready = this.sub.subscribe(channel).then(
      () => this.catchUp(channel, state),
      (error: unknown) => this.report('SB_ERR_BACKPLANE_REDIS', `SUBSCRIBE ${channel}`, error),
    );
    await state.ready;
  }

  /** Drops one reference; unsubscribes with the last. */
  async unsubscribe(channel: string): Promise<void> {
    const state = this.channels.get(channel);
    if (!state || --state.refs > 0) return;
    this.channels.delete(channel);
    if (this.sub.status !== 'ready') return;
    await this.sub
      .unsubscribe(channel)
      .catch((e) => this.report('SB_ERR_BACKPLANE_REDIS', `UNSUBSCRIBE ${channel}`, e));
  }

  /** Closes both connections; queued publishes are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    // Let what is in flight finish, but never hang on a Redis that went away meanwhile.
    if (this.pub.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1_000);
      });
      await Promise.race([this.idle(), limit]).finally(() => clearTimeout(timer));
    }
    this.closed = true;
    for (const item of this.queue.splice(0)) item.resolve(undefined);
    this.channels.clear();
    this.sub.disconnect();
    this.pub.disconnect();
  }

  private write(item: QueuedPublish): void {
    const command = (this.pub as unknown as { sbPublish: PublishCommand }).sbPublish;
    const { maxLen, maxAgeMs } = this.options;
    const promise = command
      .call(this.pub, streamKey(item.channel), item.channel, item.payload, maxLen, maxAgeMs)
      .then(
        ([, receivers]) => {
          this.counters.published++;
          item.resolve(Number(receivers));
        },
        (error: unknown) => {
          this.report('SB_ERR_BACKPLANE_REDIS', `publish to ${item.channel}`, error);
          item.resolve(undefined);
        },
      )
      .finally(() => this.inFlight.delete(promise));
    this.inFlight.add(promise);
  }

  private onPubReady(): void {
    if (this.closed) return;
    // In order: what ioredis held was resent before 'ready'; then our queue.
    for (const item of this.queue.splice(0)) this.write(item);
    // Catch-ups that failed while the command connection was away run again.
    for (const [name, state] of this.channels) {
      if (
        !state.busy &&
        (state.pending.length > 0 || state.lastId === undefined) &&
        this.sub.status === 'ready'
      ) {
        void this.catchUp(name, state);
      }
    }
  }

  private onSubReady(): void {
    if (this.closed) return;
    const reconnect = this.subReadyBefore;
    if (reconnect) this.counters.reconnects++;
    this.subReadyBefore = true;
    const names = [...this.channels.keys()];
    if (names.length === 0) return;
    if (reconnect) for (const state of this.channels.values()) state.verify = true;
    this.sub.subscribe(...names).then(
      () => {
        for (const [name, state] of this.channels) void this.catchUp(name, state);
      },
      (e) => this.report('SB_ERR_BACKPLANE_REDIS', 'resubscribe', e),
    );
  }

  private onFrame(channel: string, frame: Buffer): void {
    this.counters.messagesReceived++;
    this.counters.bytesReceived += frame.length;
    const state = this.channels.get(channel);
    if (!state) return;
    if (state.busy || state.lastId === undefined || state.pending.length > 0 || state.verify) {
      // Behind a catch-up (running, due after a reconnect, or failed and waiting for Redis): keep
      // the order, and let the catch-up see the log as the reconnect found it first.
      state.pending.push(frame);
      if (!state.busy && state.lastId !== undefined) void this.catchUp(channel, state);
    } else this.process(channel, state, frame, false);
  }

  /** Live-path rules: drop what was delivered, replay a gap first, else deliver. */
  private process(channel: string, state: ChannelState, raw: Buffer, afterCatchUp: boolean): void {
    const frame = parseLiveFrame(raw);
    if (!frame) {
      this.report('SB_ERR_BACKPLANE_REDIS', `malformed frame on ${channel}`);
      return;
    }
    const last = state.lastId!;
    if (compareIds(frame.id, last) <= 0) {
      this.counters.duplicatesDropped++;
      return;
    }
    if (frame.prev !== '' && compareIds(frame.prev, last) > 0) {
      if (!afterCatchUp) {
        state.pending.unshift(raw);
        void this.catchUp(channel, state);
        return;
      }
      this.reportLoss(channel, last, frame.prev);
    }
    this.deliver(channel, state, frame.id, frame.payload);
  }

  /**
   * Reads the log from the last delivered id (or, the first time, its tail), delivers what is
   * missing in order, then the frames that waited. Runs once at a time per channel.
   */
  private async catchUp(channel: string, state: ChannelState): Promise<void> {
    if (state.busy) {
      state.again = true;
      return;
    }
    state.busy = true;
    try {
      do {
        state.again = false;
        const key = streamKey(channel);
        if (state.lastId === undefined) {
          const tail = await this.pub.xrevrange(key, '+', '-', 'COUNT', 1);
          state.lastId ??= tail[0]?.[0] ?? '0-0';
        } else {
          if (state.verify) {
            await this.checkLogKept(channel, key, state.lastId);
            state.verify = false; // kept when the check failed: the next catch-up checks again
          }
          const from = state.lastId === '0-0' ? '-' : `(${state.lastId}`;
          for (const [idBuf, fields] of await this.pub.xrangeBuffer(key, from, '+')) {
            if (this.channels.get(channel) !== state) return;
            const id = idBuf.toString();
            if (compareIds(id, state.lastId) <= 0) continue;
            const prev = field(fields, 'v')?.toString() ?? '';
            if (prev !== '' && compareIds(prev, state.lastId) > 0)
              this.reportLoss(channel, state.lastId, prev);
            this.counters.replayed++;
            this.deliver(channel, state, id, field(fields, 'p') ?? Buffer.alloc(0));
          }
        }
      } while (state.again);
      state.busy = false;
      while (state.pending.length > 0 && !state.busy)
        this.process(channel, state, state.pending.shift()!, true);
    } catch (error) {
      // Redis went away mid-read: the frames stay pending, the next 'ready' runs this again.
      state.busy = false;
      this.report('SB_ERR_BACKPLANE_REDIS', `replay of ${channel}`, error);
    }
  }

  private deliver(channel: string, state: ChannelState, id: string, payload: Buffer): void {
    state.lastId = id;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(payload);
    } catch (error) {
      this.report('SB_ERR_BACKPLANE_REDIS', `undecodable envelope on ${channel}`, error);
      return;
    }
    if (envelope.o === this.options.nodeId) return; // our own echo: served locally already
    const key = `${envelope.o}:${envelope.n}`;
    if (this.seen.has(key)) {
      this.counters.duplicatesDropped++;
      return;
    }
    this.seen.add(key);
    if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value!);
    try {
      this.options.handler(channel, envelope);
    } catch (error) {
      this.report('SB_ERR_BACKPLANE_REDIS', `handling a message of ${channel}`, error);
    }
  }

  /**
   * After a reconnect: whether the channel's log still holds the last entry this node delivered.
   * When it does not, and the log is empty or starts with an entry that names no previous one, the
   * log was started anew (Redis restarted without persistence, or was flushed): entries published
   * before that and not received live are gone without a trace of their number, so the node
   * reports the reset (`SB_ERR_BACKPLANE_LOG_RESET`, `counters.logResets`) instead of staying
   * silent. A log merely trimmed past `lastId` is the replay-gap rule's case, and an entry older
   * than `maxAgeMs` (by Redis's clock) may have gone with an idle log's expiry: neither is a reset.
   * A flush that no reconnect follows is not seen here.
   */
  private async checkLogKept(channel: string, key: string, lastId: string): Promise<void> {
    if (lastId === '0-0') {
      // Nothing was delivered before: only an emptied log that had entries is a reset, and
      // nothing tells it apart from one that never had any. Nothing to check.
      return;
    }
    if ((await this.pub.xrange(key, lastId, lastId)).length > 0) return;
    // An entry older than the window may have left with an idle log's expiry: not a reset.
    const [seconds, micros] = await this.pub.time();
    const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    if (Number(lastId.split('-')[0]) < nowMs - this.options.maxAgeMs) return;
    const first = await this.pub.xrangeBuffer(key, '-', '+', 'COUNT', 1);
    const prev = first[0] ? (field(first[0][1], 'v')?.toString() ?? '') : '';
    if (first.length > 0 && prev !== '') return; // trimmed: the gap rule counts what is missing
    this.counters.logResets++;
    this.report(
      'SB_ERR_BACKPLANE_LOG_RESET',
      `${channel}: the log no longer holds ${lastId} and starts anew (Redis restarted without persistence or was flushed); sends published before that and not received live cannot be replayed`,
    );
  }

  private reportLoss(channel: string, from: string, to: string): void {
    this.counters.lost++;
    this.report(
      'SB_ERR_BACKPLANE_REPLAY_GAP',
      `${channel}: entries after ${from} up to ${to} left the replay window`,
    );
  }

  private report(code: BackplaneError['code'], what: string, cause?: unknown): void {
    if (this.closed) return;
    this.counters.errors++;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    try {
      this.options.onError(new BackplaneError(code, `${what}${detail}`, { cause }));
    } catch {
      // a throwing hook must not take the bus down
    }
  }
}

/** The replay log of a channel: a key apart from every channel's (channels and keys never mix). */
export function streamKey(channel: string): string {
  return `${channel}#log`;
}

function connect(redis: RedisOptions | string | undefined, overrides: RedisOptions): Redis {
  return typeof redis === 'string' ? new Redis(redis, overrides) : new Redis({ ...redis, ...overrides });
}

function field(fields: Buffer[], name: string): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === name) return fields[i + 1];
  return undefined;
}
