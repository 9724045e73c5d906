/**
 * Backplane faults for the fault suite: restart a private redis-server, or hold one node's
 * backplane connections down through a TCP fault proxy.
 * @module
 */
import { FaultProxy } from './fault-proxy.js';
import type { BackplaneSpec } from './node-process.js';
import { OwnRedis } from './own-redis.js';
import { sleep } from './processes.js';
import { redisCommand } from './redis-setup.js';

/** How many clients are connected to the Redis at `url`, not counting the one asking. */
async function connectedClients(url: string): Promise<number> {
  const list = String(await redisCommand(url, 'CLIENT', 'LIST'));
  return list.split('\n').filter((line) => line.includes(' addr=')).length - 1;
}

/** A fault on the backplane of a three-node cluster, begun and ended while the nodes send. */
export interface BackplaneFault {
  /** Shown in the test name. */
  readonly name: string;
  /** The backplane node `index` (0..2) is given. */
  spec(index: number): BackplaneSpec;
  /** Told the node ids once the cluster runs (for faults that find a node's connections by it). */
  bind?(nodeIds: readonly string[]): void;
  /** Puts the fault in effect. */
  begin(): Promise<void>;
  /** Ends it (the backplane is reachable again when this resolves). */
  end(): Promise<void>;
  /**
   * Whether a message already written to the backplane before `begin` but not yet delivered to a
   * receiver may be lost (a restart without persistence empties the replay logs).
   */
  readonly mayLoseInFlight: boolean;
  /** Stops what the fault started. */
  dispose(): Promise<void>;
}

/** A restart of a private redis-server (SIGTERM, without persistence) that every node uses. */
export async function redisRestartFault(): Promise<BackplaneFault> {
  const redis = await OwnRedis.start();
  let clientsBefore = 0;
  return {
    name: 'redis-server restarted (stop, wait, start)',
    spec: () => ({ kind: 'redis', url: redis.url }),
    begin: async () => {
      clientsBefore = await connectedClients(redis.url);
      if (clientsBefore === 0) throw new Error('no node is connected to redis-server');
      await redis.stop('SIGTERM');
    },
    end: async () => {
      await redis.start();
      // The nodes reconnect by themselves; the fault is over once all their connections are back.
      const deadline = Date.now() + 15_000;
      while ((await connectedClients(redis.url)) < clientsBefore) {
        if (Date.now() > deadline) throw new Error('the nodes did not reconnect to redis-server within 15 s');
        await sleep(50);
      }
    },
    mayLoseInFlight: true,
    dispose: () => redis.dispose(),
  };
}

/**
 * One node (index `held`) reaches the backplane `target` through a fault proxy; the fault cuts its
 * connections and refuses new ones until it ends, while the other nodes keep theirs.
 */
export async function holdOneNodeFault(target: BackplaneSpec, held = 0): Promise<BackplaneFault> {
  const url = new URL(target.url);
  const proxy = await FaultProxy.start(Number(url.port), url.hostname);
  const viaProxy = new URL(target.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  return {
    name: `node${held + 1}'s backplane connections cut and held down`,
    spec: (index) => (index === held ? { kind: target.kind, url: viaProxy.toString() } : target),
    begin: async () => {
      if (proxy.openConnections === 0) throw new Error(`node${held + 1} has no backplane connection to cut`);
      proxy.refuse();
    },
    end: async () => {
      const before = proxy.accepted;
      proxy.release();
      // The node reconnects by itself; the fault is over once it has.
      const deadline = Date.now() + 10_000;
      while (proxy.accepted === before) {
        if (Date.now() > deadline) throw new Error(`node${held + 1} did not reconnect within 10 s`);
        await sleep(20);
      }
    },
    mayLoseInFlight: false,
    dispose: () => proxy.close(),
  };
}
