// Test helpers: a unique prefix per run, nodes on the local Redis, clean-up of the run's keys.
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import type { TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { requireService } from '../../testkit/src/services.ts';
import { RedisHubLifetimeManager, type RedisHubLifetimeManagerOptions } from '../src/index.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Skips (or, under CI=true, fails) when Redis is not running. */
export function requireRedis(t: TestContext): Promise<boolean> {
  const url = new URL(REDIS_URL);
  return requireService(t, {
    kind: 'tcp',
    name: 'Redis',
    host: url.hostname,
    port: Number(url.port || 6379),
  });
}

/** Whether Redis answers on its port (for files that must decide before registering tests). */
export function redisReachable(): Promise<boolean> {
  const url = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A prefix no other test run uses. */
export function uniquePrefix(): string {
  return `sbtest:${randomUUID()}:`;
}

/** `n` nodes on one prefix, each with its own connections, ready. */
export async function startNodes(
  n: number,
  prefix: string,
  options: Partial<RedisHubLifetimeManagerOptions> = {},
): Promise<RedisHubLifetimeManager[]> {
  const nodes = Array.from(
    { length: n },
    (_, i) => new RedisHubLifetimeManager({ redis: REDIS_URL, prefix, nodeId: `node-${i}`, ...options }),
  );
  await Promise.all(nodes.map((node) => node.ready()));
  return nodes;
}

/** Waits until every node has written what it sent, and the bus has carried it. */
export async function settle(nodes: readonly RedisHubLifetimeManager[], ms = 60): Promise<void> {
  await Promise.all(nodes.map((node) => node.flush()));
  await sleep(ms);
}

/** Closes the nodes and deletes the run's keys. */
export async function closeNodes(nodes: readonly RedisHubLifetimeManager[], prefix: string): Promise<void> {
  await Promise.all(nodes.map((node) => node.close()));
  const admin = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `condition` holds; fails after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Kills one of a node's Redis connections (`sub` or `pub`) by its client name. */
export async function killConnection(
  admin: Redis,
  prefix: string,
  nodeId: string,
  which: 'sub' | 'pub',
): Promise<void> {
  const list = (await admin.client('LIST')) as string;
  const line = list.split('\n').find((l) => l.includes(`name=${prefix}hub:${nodeId}:${which} `));
  if (!line) throw new Error(`no ${which} connection of ${nodeId}`);
  await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]!);
}

/** ioredis options for the local Redis with a fixed reconnect delay (a node that stays away a while). */
export function slowReconnect(delayMs: number): { host: string; port: number; retryStrategy: () => number } {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379), retryStrategy: () => delayMs };
}
