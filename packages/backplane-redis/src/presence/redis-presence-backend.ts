/**
 * The Redis presence backend of the scale-out core: the atomic operations of presence as Lua
 * scripts (redis-presence-scripts.ts, which also documents the keys), events published on
 * `<prefix>events` and logged in the stream `<prefix>log`, and the changes other nodes make to a
 * node's connections on `<prefix>ctl:<node>`.
 * @module
 */
import type { PresenceConnection } from '@switchboard/server';
import {
  type LeaseResult,
  type PresenceAssertion,
  type PresenceBackend,
  type PresenceBackendContext,
  type PresenceLogEvent,
  presenceAssertionJson,
  remoteChangeOf,
  reportPresenceError,
  type TransitionResult,
} from '@switchboard/server/scaleout';
import type { Redis, RedisOptions } from 'ioredis';
import { connectRedis } from '../redis-bus.js';
import {
  addScript,
  assertScript,
  closeScript,
  groupScript,
  heartbeatScript,
  readConnectionsScript,
  removeScript,
} from './redis-presence-scripts.js';

/** Options of a {@link RedisPresenceBackend}. */
export interface RedisPresenceBackendOptions {
  /** ioredis options or a `redis://` URL. */
  readonly redis: RedisOptions | string;
  /** Prefix of every key and channel. */
  readonly prefix: string;
  /** How many recent events the log keeps for nodes catching up. */
  readonly eventLogLength: number;
}

type ScriptName = 'sbpAdd' | 'sbpRemove' | 'sbpGroup' | 'sbpHeartbeat' | 'sbpAssert' | 'sbpClose' | 'sbpRead';
type ScriptRunner = (...args: (string | number)[]) => Promise<unknown>;

const scripts: Record<ScriptName, string> = {
  sbpAdd: addScript,
  sbpRemove: removeScript,
  sbpGroup: groupScript,
  sbpHeartbeat: heartbeatScript,
  sbpAssert: assertScript,
  sbpClose: closeScript,
  sbpRead: readConnectionsScript,
};

/** One node's presence operations on Redis. */
export class RedisPresenceBackend implements PresenceBackend {
  readonly backend = 'redis';
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly prefix: string;

  constructor(
    private readonly options: RedisPresenceBackendOptions,
    private readonly context: PresenceBackendContext,
  ) {
    this.prefix = options.prefix;
    this.redis = connectRedis(options.redis);
    this.sub = this.redis.duplicate({ connectionName: `${this.prefix}${context.nodeId}:sub` });
    for (const [name, lua] of Object.entries(scripts))
      this.redis.defineCommand(name, { numberOfKeys: 0, lua });
    for (const connection of [this.redis, this.sub]) {
      connection.on('error', (error: unknown) => reportPresenceError(context, 'redis', 'connection', error));
    }
    this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    // After a reconnect ioredis resubscribes by itself; the core reads what was published meanwhile.
    let subscribedOnce = false;
    this.sub.on('ready', () => {
      if (subscribedOnce) context.receiver.reconnected();
      subscribedOnce = true;
    });
  }

  async start(): Promise<void> {
    await this.sub.subscribe(this.key('events'), this.key(`ctl:${this.context.nodeId}`));
  }

  async assert(state: PresenceAssertion): Promise<LeaseResult> {
    const { token, leaseMs } = this.context;
    const wire = presenceAssertionJson(state, (connection) => JSON.stringify(connection));
    const [epoch, head, events, dueInMs] = await this.run<[string, number, string[], number]>(
      'sbpAssert',
      token,
      leaseMs,
      state.leaseEpoch,
      wire,
    );
    return { leaseHeld: true, epoch, head, events: parse(events), dueInMs };
  }

  async heartbeat(): Promise<LeaseResult> {
    const { token, leaseMs } = this.context;
    const [ok, epoch, head, events, dueInMs] = await this.run<[number, string, number, string[], number]>(
      'sbpHeartbeat',
      token,
      leaseMs,
    );
    return { leaseHeld: ok === 1, epoch, head, events: parse(events), dueInMs };
  }

  async add(x: PresenceConnection): Promise<Omit<LeaseResult, 'epoch' | 'head'>> {
    const args = [x.connectionId, x.userId, JSON.stringify(x), this.context.token];
    const [ok, events] = await this.run<[number, string[]]>('sbpAdd', ...args);
    return { leaseHeld: ok === 1, events: parse(events), dueInMs: -1 };
  }

  async remove(connectionId: string): Promise<TransitionResult> {
    const [events, dueInMs] = await this.run<[string[], number]>('sbpRemove', connectionId);
    return { events: parse(events), dueInMs };
  }

  async group(connectionId: string, group: string, member: boolean): Promise<void> {
    await this.run('sbpGroup', connectionId, group, member ? '1' : '0');
  }

  async leave(): Promise<TransitionResult> {
    return { events: parse(await this.run<string[]>('sbpClose', this.context.token)), dueInMs: -1 };
  }

  async readEvents(epoch: string, after: number, upTo: number): Promise<readonly PresenceLogEvent[]> {
    const entries = await this.redis.xrange(this.key('log'), `0-${after + 1}`, `0-${upTo}`);
    const events: PresenceLogEvent[] = [];
    for (const [, fields] of entries) {
      const text = fields[fields.indexOf('ev') + 1];
      if (text === undefined) continue;
      const event = JSON.parse(text) as PresenceLogEvent;
      if (event.e === epoch) events.push(event);
    }
    return events;
  }

  async isOnline(userId: string): Promise<boolean> {
    return (await this.redis.sismember(this.key('online'), userId)) === 1;
  }

  onlineUsers(): Promise<string[]> {
    return this.redis.smembers(this.key('online'));
  }

  userConnections(userId: string): Promise<PresenceConnection[]> {
    return this.readConnections('user', userId);
  }

  groupConnectionCount(group: string): Promise<number> {
    return this.redis.scard(this.key(`group:${group}`));
  }

  groupConnections(group: string): Promise<PresenceConnection[]> {
    return this.readConnections('group', group);
  }

  groupUsers(group: string): Promise<string[]> {
    return this.redis.hkeys(this.key(`gusers:${group}`));
  }

  groupUserCount(group: string): Promise<number> {
    return this.redis.hlen(this.key(`gusers:${group}`));
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready' && this.sub.status === 'ready') {
      await Promise.allSettled([this.redis.quit(), this.sub.quit()]);
    } else {
      this.redis.disconnect();
      this.sub.disconnect();
    }
  }

  private onMessage(channel: string, message: string): void {
    try {
      if (channel === this.key('events')) {
        this.context.receiver.events([JSON.parse(message) as PresenceLogEvent]);
        return;
      }
      // A change another node made to one of this node's connections.
      const [kind, connectionId, group] = JSON.parse(message) as unknown[];
      const change = remoteChangeOf(kind, connectionId, group);
      if (change) this.context.receiver.remoteChange(change);
    } catch (error) {
      this.context.receiver.error(error);
    }
  }

  private async readConnections(kind: 'user' | 'group', name: string): Promise<PresenceConnection[]> {
    const jsons = (await this.runRaw('sbpRead', this.prefix, kind, name)) as string[];
    return jsons.map((json) => JSON.parse(json) as PresenceConnection);
  }

  private run<T = unknown>(name: ScriptName, ...args: (string | number)[]): Promise<T> {
    const { prefix, eventLogLength } = this.options;
    const { graceMs, nodeId } = this.context;
    return this.runRaw(name, prefix, eventLogLength, graceMs, nodeId, ...args) as Promise<T>;
  }

  private runRaw(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    const runner = (this.redis as unknown as Record<ScriptName, ScriptRunner>)[name];
    return runner.apply(this.redis, args);
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }
}

function parse(events: readonly string[]): PresenceLogEvent[] {
  return events.map((text) => JSON.parse(text) as PresenceLogEvent);
}
