/**
 * The Redis transport of the scale-out core: two ioredis connections (commands and pub/sub), the
 * publish queue used while Redis is unreachable, and per channel a Redis stream as its replay log,
 * appended in the same script as the PUBLISH (scripts.ts). The core does the rest (subscription
 * counting, positions, gaps, catch-ups, duplicates).
 * @module
 */
import {
  type BusContext,
  type BusStatus,
  type Channel,
  channelName,
  type LogEntry,
  type PositionCheck,
  QueuedBus,
  type ReplayLog,
  type ReplayWindowOptions,
  waitUntil,
} from '@switchboard/server/scaleout';
import { Redis, type RedisOptions } from 'ioredis';
import { PUBLISH_SCRIPT } from './scripts.js';

/** Options of {@link RedisBus}. */
export interface RedisBusOptions extends Required<ReplayWindowOptions> {
  /** ioredis options or a `redis://` URL. Default: 127.0.0.1:6379. */
  readonly redis: RedisOptions | string | undefined;
  /** Prefix of every channel and key (the hub's name follows it). */
  readonly prefix: string;
}

interface QueuedPublish {
  readonly channel: string;
  readonly payload: Uint8Array;
}

type PublishCommand = (
  key: string,
  channel: string,
  payload: Uint8Array,
  maxLen: number,
  maxAgeMs: number,
) => Promise<[string, number]>;

/** One hub's bus on one node, over Redis. */
export class RedisBus extends QueuedBus<QueuedPublish> {
  readonly backend = 'redis';
  readonly log: ReplayLog;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly base: string;
  private subReadyBefore = false;

  constructor(
    private readonly options: RedisBusOptions,
    context: BusContext,
  ) {
    super(context, options.maxQueuedPublishes, (item) => `a send to ${item.channel}`);
    this.base = `${options.prefix}${context.hubName}:`;
    const name = `${this.base}${context.nodeId}`;
    const base: RedisOptions = {
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: false,
    };
    this.pub = connectRedis(options.redis, { ...base, connectionName: `${name}:pub` });
    this.sub = connectRedis(options.redis, { ...base, connectionName: `${name}:sub` });
    this.pub.defineCommand('sbPublish', { numberOfKeys: 1, lua: PUBLISH_SCRIPT });
    this.pub.on('error', (e) => this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'command connection', e));
    this.sub.on('error', (e) => this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'pub/sub connection', e));
    this.pub.on('ready', () => this.onPubReady());
    this.sub.on('ready', () => this.onSubReady());
    this.sub.on('messageBuffer', (channel: Buffer, frame: Buffer) => this.onFrame(channel.toString(), frame));
    this.log = {
      compare: compareIds,
      tail: async (channel) => {
        const tail = await this.pub.xrevrange(this.streamKey(channel), '+', '-', 'COUNT', 1);
        return tail[0]?.[0] ?? '';
      },
      read: (channel, after) => this.read(channel, after),
      check: (channel, position) => this.check(channel, position),
    };
  }

  async subscribe(channel: Channel): Promise<void> {
    const name = this.name(channel);
    this.channels.set(name, channel);
    // While Redis is unreachable the reconnect subscribes.
    if (this.sub.status !== 'ready') return;
    await this.sub
      .subscribe(name)
      .catch((e) => this.report('SB_ERR_BACKPLANE_UNAVAILABLE', `SUBSCRIBE ${name}`, e));
  }

  async unsubscribe(channel: Channel): Promise<void> {
    const name = this.name(channel);
    this.channels.delete(name);
    if (this.sub.status !== 'ready') return;
    await this.sub
      .unsubscribe(name)
      .catch((e) => this.report('SB_ERR_BACKPLANE_UNAVAILABLE', `UNSUBSCRIBE ${name}`, e));
  }

  publish(channel: Channel, payload: Uint8Array): Promise<number | undefined> {
    return this.queue.publish({ channel: this.name(channel), payload });
  }

  ready(timeoutMs: number): Promise<void> {
    return waitUntil(() => this.status().connected || this.closed, timeoutMs);
  }

  status(): BusStatus {
    return {
      connected: this.sub.status === 'ready' && this.pub.status === 'ready',
      queued: this.queue.length,
    };
  }

  protected async disconnect(): Promise<void> {
    this.sub.disconnect();
    this.pub.disconnect();
  }

  protected writable(): boolean {
    return this.pub.status === 'ready';
  }

  protected async write(item: QueuedPublish): Promise<number | undefined> {
    const command = (this.pub as unknown as { sbPublish: PublishCommand }).sbPublish;
    const { maxLen, maxAgeMs } = this.options;
    try {
      const key = streamKey(item.channel);
      const [, receivers] = await command.call(this.pub, key, item.channel, item.payload, maxLen, maxAgeMs);
      return Number(receivers);
    } catch (error) {
      this.report('SB_ERR_BACKPLANE_UNAVAILABLE', `publish to ${item.channel}`, error);
      return undefined;
    }
  }

  private onPubReady(): void {
    if (this.closed) return;
    // In order: what ioredis held was resent before 'ready'; then our queue.
    this.queue.drain();
    // Catch-ups that failed while the command connection was away run again.
    if (this.sub.status === 'ready') this.context.receiver.reconnected();
  }

  private onSubReady(): void {
    if (this.closed) return;
    if (this.subReadyBefore) {
      this.counters.reconnects++;
      this.context.receiver.resubscribing();
    }
    this.subReadyBefore = true;
    const names = [...this.channels.keys()];
    if (names.length === 0) return;
    this.sub.subscribe(...names).then(
      () => this.context.receiver.reconnected(),
      (e) => this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'resubscribe', e),
    );
  }

  /** A live frame `<id>|<prevId>|<envelope>` (see scripts.ts). */
  private onFrame(name: string, frame: Buffer): void {
    this.counters.messagesReceived++;
    this.counters.bytesReceived += frame.length;
    const channel = this.channels.get(name);
    if (!channel) return;
    const first = frame.indexOf(0x7c);
    const second = first < 0 ? -1 : frame.indexOf(0x7c, first + 1);
    if (second < 0) {
      this.report('SB_ERR_BACKPLANE_UNAVAILABLE', `malformed frame on ${name}`);
      return;
    }
    this.context.receiver.message(channel, frame.subarray(second + 1), {
      position: frame.toString('latin1', 0, first),
      previous: frame.toString('latin1', first + 1, second),
    });
  }

  private async read(channel: Channel, after: string): Promise<LogEntry[]> {
    const from = after === '' ? '-' : `(${after}`;
    return (await this.pub.xrangeBuffer(this.streamKey(channel), from, '+')).map(([id, fields]) => ({
      position: id.toString(),
      previous: field(fields, 'v')?.toString() ?? '',
      payload: field(fields, 'p') ?? Buffer.alloc(0),
    }));
  }

  /**
   * After a reconnect: whether the channel's log still holds the last entry this node delivered.
   * When it does not, and the log is empty or starts with an entry that names no previous one, the
   * log was started anew (Redis restarted without persistence, or was flushed). A log merely
   * trimmed past it is the gap rule's case, and an entry older than `maxAgeMs` (by Redis's clock)
   * may have gone with an idle log's expiry: neither is a reset.
   */
  private async check(channel: Channel, position: string): Promise<PositionCheck> {
    const key = this.streamKey(channel);
    if ((await this.pub.xrange(key, position, position)).length > 0) return 'kept';
    const [seconds, micros] = await this.pub.time();
    const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    if (Number(position.split('-')[0]) < nowMs - this.options.maxAgeMs) return 'trimmed';
    const first = await this.pub.xrangeBuffer(key, '-', '+', 'COUNT', 1);
    const prev = first[0] ? (field(first[0][1], 'v')?.toString() ?? '') : '';
    return first.length > 0 && prev !== '' ? 'trimmed' : 'reset';
  }

  private name(channel: Channel): string {
    return this.base + channelName(channel);
  }

  private streamKey(channel: Channel): string {
    return streamKey(this.name(channel));
  }
}

/** The replay log of a Redis channel: a key apart from every channel's (channels and keys never mix). */
export function streamKey(channel: string): string {
  return `${channel}#log`;
}

/** Compares two stream ids (`<ms>-<seq>`): negative, zero or positive. */
export function compareIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  return am !== bm ? am - bm : as - bs;
}

function splitId(id: string): [number, number] {
  const dash = id.indexOf('-');
  return dash < 0 ? [Number(id), 0] : [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

/** A Redis connection from a `redis://` URL or ioredis options (`overrides` win over them). */
export function connectRedis(redis: RedisOptions | string | undefined, overrides: RedisOptions = {}): Redis {
  return typeof redis === 'string' ? new Redis(redis, overrides) : new Redis({ ...redis, ...overrides });
}

function field(fields: Buffer[], name: string): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === name) return fields[i + 1];
  return undefined;
}
