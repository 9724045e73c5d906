/**
 * The Redis backplane for the cluster suites: the machine's Redis (env `REDIS_URL`, default
 * `redis://127.0.0.1:6379`), and the clean-up of a test cluster's keys.
 * @module
 */
import { connect } from 'node:net';
import type { TestContext } from 'node:test';
import { requireService } from '../services.js';
import type { ClusterBackplaneSetup } from './lb-suite.js';

/** The Redis the cluster suites use. */
export const CLUSTER_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A RESP2 reply. */
export type Reply = string | number | null | Reply[];

/** Runs Redis commands one after another on one connection (RESP2), for clean-up only. */
async function redisCommands(
  url: string,
  run: (call: (...args: string[]) => Promise<Reply>) => Promise<void>,
) {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port || 6379) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffer = Buffer.alloc(0);
  let waiting: ((reply: Reply | Error) => void) | undefined;
  // Parses one reply at `at`; returns it and the offset after it, or undefined if incomplete.
  const parse = (at: number): [Reply | Error, number] | undefined => {
    const end = buffer.indexOf('\r\n', at);
    if (end < 0) return undefined;
    const type = String.fromCharCode(buffer[at]!);
    const line = buffer.toString('utf8', at + 1, end);
    if (type === '+') return [line, end + 2];
    if (type === '-') return [new Error(line), end + 2];
    if (type === ':') return [Number(line), end + 2];
    if (type === '$') {
      const length = Number(line);
      if (length < 0) return [null, end + 2];
      if (buffer.length < end + 2 + length + 2) return undefined;
      return [buffer.toString('utf8', end + 2, end + 2 + length), end + 2 + length + 2];
    }
    const items: Reply[] = [];
    let next = end + 2;
    for (let i = 0; i < Number(line); i++) {
      const item = parse(next);
      if (!item) return undefined;
      items.push(item[0] as Reply);
      next = item[1];
    }
    return [items, next];
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    const reply = parse(0);
    if (!reply || !waiting) return;
    buffer = buffer.subarray(reply[1]);
    const resolve = waiting;
    waiting = undefined;
    resolve(reply[0]);
  });
  const call = (...args: string[]) =>
    new Promise<Reply>((resolve, reject) => {
      waiting = (reply) => (reply instanceof Error ? reject(reply) : resolve(reply));
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
  try {
    await run(call);
  } finally {
    socket.destroy();
  }
}

/** Runs one Redis command on a connection of its own and returns the reply (tests' checks only). */
export async function redisCommand(url: string, ...args: string[]): Promise<Reply> {
  let reply: Reply = null;
  await redisCommands(url, async (call) => {
    reply = await call(...args);
  });
  return reply;
}

/** Deletes every key that starts with `prefix` (SCAN and DEL). */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  await redisCommands(url, async (call) => {
    let cursor = '0';
    do {
      const [next, keys] = (await call('SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '1000')) as [
        string,
        string[],
      ];
      cursor = next;
      if (keys.length > 0) await call('DEL', ...keys);
    } while (cursor !== '0');
  });
}

/** The machine's Redis as the cluster suites' backplane (skipped loudly when it is down). */
export const redisClusterSetup: ClusterBackplaneSetup = {
  name: 'Redis',
  require(t: TestContext) {
    const { hostname, port } = new URL(CLUSTER_REDIS_URL);
    return requireService(t, { kind: 'tcp', name: 'Redis', host: hostname, port: Number(port || 6379) });
  },
  spec: () => ({ kind: 'redis', url: CLUSTER_REDIS_URL }),
  cleanup: (prefix) => deleteRedisPrefix(CLUSTER_REDIS_URL, prefix),
};
