/**
 * {@link RedisUserGroupStore}: the scale-out core's user-group memberships in Redis. One sorted
 * set per user (`<prefix>user-groups:<scope>:<user>`, scope and user URL-encoded): each member a
 * group, its score the expiry in milliseconds; the key itself expires with its last membership.
 * @module
 */
import type { UserGroupMemberships, UserGroupStore } from '@switchboard/server/scaleout';
import type { Redis, RedisOptions } from 'ioredis';
import { connectRedis } from './redis-bus.js';

/** Options of a {@link RedisUserGroupStore}. */
export interface RedisUserGroupStoreOptions {
  /** The Redis: a `redis://` URL or ioredis options. Default `redis://127.0.0.1:6379`. */
  readonly url?: string | RedisOptions;
  /** Prefix of every key (the backplane's prefix keeps clusters apart). Default `switchboard:`. */
  readonly prefix?: string;
}

/** Adds a member with its expiry score, then makes the key expire with its latest member. */
const ADD_SCRIPT = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end
return 1`;

/** User-group memberships with their expiry in Redis (see the module). */
export class RedisUserGroupStore implements UserGroupStore {
  readonly backend = 'redis';
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(options: RedisUserGroupStoreOptions = {}) {
    const url = options.url ?? 'redis://127.0.0.1:6379';
    this.redis = connectRedis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
    this.prefix = `${options.prefix ?? 'switchboard:'}user-groups:`;
  }

  async start(): Promise<void> {
    await this.redis.connect();
  }

  async add(scope: string, user: string, group: string, expiresAt: number): Promise<void> {
    await this.redis.eval(ADD_SCRIPT, 1, this.key(scope, user), expiresAt, group, Date.now());
  }

  async remove(scope: string, user: string, group: string): Promise<boolean> {
    const key = this.key(scope, user);
    const [[, score], [, removed]] = (await this.redis
      .multi()
      .zscore(key, group)
      .zrem(key, group)
      .exec()) as [[unknown, string | null], [unknown, number]];
    return removed > 0 && score !== null && Number(score) > Date.now();
  }

  async removeAll(scope: string, user: string): Promise<void> {
    await this.redis.del(this.key(scope, user));
  }

  async groups(scope: string, user: string, now = Date.now()): Promise<UserGroupMemberships> {
    const flat = await this.redis.zrangebyscore(this.key(scope, user), `(${now}`, '+inf', 'WITHSCORES');
    const out = new Map<string, number>();
    for (let i = 0; i < flat.length; i += 2) out.set(flat[i]!, Number(flat[i + 1]));
    return out;
  }

  async has(scope: string, user: string, group: string, now = Date.now()): Promise<boolean> {
    const score = await this.redis.zscore(this.key(scope, user), group);
    return score !== null && Number(score) > now;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private key(scope: string, user: string): string {
    return `${this.prefix}${encodeURIComponent(scope)}:${encodeURIComponent(user)}`;
  }
}
