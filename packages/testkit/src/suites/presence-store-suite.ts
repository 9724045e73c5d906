/**
 * The conformance suite every {@link PresenceStore} runs: the in-memory default now, the Redis and
 * PostgreSQL stores in their packages. It only uses the public contract (presence-store.ts), never
 * an implementation's internals, and it runs on a manual clock or on real time alike: time passes
 * only through the backend's `advance`, and every expectation about another node is polled.
 * @module
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NewPresenceConnection, PresenceEvent, PresenceStore } from '@switchboard/server';

/** The timing the suite asks of a backend; small, so that real-time backends run quickly. */
export interface PresenceSuiteTiming {
  /** The grace period before `userOffline`. */
  readonly graceMs: number;
  /** The lease of a node; the store must renew it at least three times within it. */
  readonly leaseMs: number;
}

/** One fresh backend (its own key prefix, its own tables) that several nodes share. */
export interface PresenceTestBackend {
  /** Creates the store of a new node (ids are unique within the backend). */
  node(nodeId: string): Promise<PresenceStore>;
  /**
   * Kills a node as SIGKILL would: no more heartbeats, no clean-up, its listeners silent. Its
   * connections must stay until the lease runs out.
   */
  crash(store: PresenceStore): Promise<void>;
  /**
   * Lets `ms` of the stores' time pass and whatever falls due run: advance a manual clock and yield
   * to the event loop, or, for a store on real time, sleep.
   */
  advance(ms: number): Promise<void>;
  /** Closes every node left and frees the backend. */
  close(): Promise<void>;
}

/** Creates a backend with the given timing. Called once per test. */
export type PresenceStoreFactory = (timing: PresenceSuiteTiming) => Promise<PresenceTestBackend>;

/** Options of {@link presenceStoreSuite}. */
export interface PresenceStoreSuiteOptions {
  /** Default 200 ms. */
  graceMs?: number;
  /** Default 600 ms. */
  leaseMs?: number;
  /** How much time passes between two polls. Default 10 ms. */
  pollMs?: number;
}

/**
 * Registers the presence conformance tests under `describe(name)`.
 *
 * @example
 * ```ts
 * presenceStoreSuite('RedisPresenceStore', async (timing) => {
 *   const prefix = `test:${randomUUID()}:`;
 *   const stores: RedisPresenceStore[] = [];
 *   return {
 *     node: async (nodeId) => { const s = new RedisPresenceStore({ url, prefix, nodeId, ...timing });
 *                               stores.push(s); return s; },
 *     crash: async (store) => (store as RedisPresenceStore).destroyWithoutCleanup(),
 *     advance: (ms) => new Promise((r) => setTimeout(r, ms)),
 *     close: async () => { await Promise.all(stores.map((s) => s.close())); },
 *   };
 * });
 * ```
 */
export function presenceStoreSuite(
  name: string,
  factory: PresenceStoreFactory,
  options: PresenceStoreSuiteOptions = {},
): void {
  const graceMs = options.graceMs ?? 200;
  const leaseMs = options.leaseMs ?? 600;
  const pollMs = options.pollMs ?? 10;
  // The longest any cross-node effect may take: a heartbeat (at most a third of a lease) plus slack.
  const propagateMs = leaseMs;

  /** Runs `body` against a fresh backend, closing it whatever happens. */
  const scenario = (title: string, body: (s: Scenario) => Promise<void>) =>
    test(title, async () => {
      const backend = await factory({ graceMs, leaseMs });
      try {
        await body(new Scenario(backend, pollMs));
      } finally {
        await backend.close();
      }
    });

  describe(name, () => {
    describe('online and offline events', () => {
      scenario(
        'a first connection announces userOnline once to every subscriber on every node',
        async (s) => {
          const [a, b] = await s.nodes('a', 'b');
          const logs = [s.record(a), s.record(a), s.record(b)];
          await a.addConnection(conn('c1', 'ada'));
          await s.eventually(
            () => logs.every((l) => l.length === 1),
            propagateMs,
            'every subscriber to hear it',
          );
          await s.advance(graceMs * 2); // anything extra would show now
          for (const log of logs) assert.deepEqual(kinds(log), ['online:ada']);
          for (const log of logs) assert.deepEqual(origins(log), [a.nodeId], 'decided by the adding node');
          assert.equal(await a.isOnline('ada'), true);
          await s.eventually(() => b.isOnline('ada'), propagateMs, 'node b to see ada online');
          assert.deepEqual(await b.onlineUsers(), ['ada']);
          assert.equal(await b.isOnline('bob'), false);
        },
      );

      scenario('a second tab or device, and closing one of two, announce nothing', async (s) => {
        const [a, b] = await s.nodes('a', 'b');
        const logs = [s.record(a), s.record(b)];
        await a.addConnection(conn('tab1', 'ada'));
        await a.addConnection(conn('tab2', 'ada'));
        await b.addConnection(conn('phone', 'ada'));
        await a.removeConnection('tab1');
        await s.advance(graceMs * 3);
        await b.removeConnection('tab2'); // removed from the other node
        await s.advance(graceMs * 3);
        for (const log of logs) assert.deepEqual(kinds(log), ['online:ada']);
        assert.equal(await a.isOnline('ada'), true);
        assert.deepEqual(ids(await a.userConnections('ada')), ['phone']);
      });

      scenario(
        'a reload within the grace period, on the same or another node, announces nothing',
        async (s) => {
          const [a, b] = await s.nodes('a', 'b');
          const logs = [s.record(a), s.record(b)];
          await a.addConnection(conn('c1', 'ada'));
          await a.removeConnection('c1');
          await s.advance(graceMs / 4);
          await a.addConnection(conn('c2', 'ada')); // reload
          await a.removeConnection('c2');
          await s.advance(graceMs / 4);
          await b.addConnection(conn('c3', 'ada')); // reconnect lands on another node
          await s.advance(graceMs * 3);
          for (const log of logs) assert.deepEqual(kinds(log), ['online:ada']);
          assert.equal(await b.isOnline('ada'), true);
        },
      );

      scenario('the last connection gone past the grace period announces userOffline once', async (s) => {
        const [a, b] = await s.nodes('a', 'b');
        const logs = [s.record(a), s.record(a), s.record(b)];
        await a.addConnection(conn('c1', 'ada'));
        await a.removeConnection('c1');
        await s.advance(graceMs / 4);
        assert.equal(await a.isOnline('ada'), true, 'online during the grace period');
        assert.deepEqual(await a.userConnections('ada'), []);
        for (const log of logs) assert.deepEqual(kinds(log), ['online:ada']);
        await s.eventually(
          () => logs.every((l) => l.length === 2),
          graceMs + propagateMs,
          'every subscriber to hear the offline',
        );
        await s.advance(graceMs * 3);
        for (const log of logs) assert.deepEqual(kinds(log), ['online:ada', 'offline:ada']);
        for (const log of logs) assert.deepEqual(origins(log), [a.nodeId, a.nodeId]);
        assert.ok(logs[0]![1]!.at >= logs[0]![0]!.at, 'offline is not dated before online');
        assert.equal(await a.isOnline('ada'), false);
        assert.deepEqual(await b.onlineUsers(), []);
      });

      scenario("users' transitions are independent, and each user's events alternate", async (s) => {
        const [a, b] = await s.nodes('a', 'b');
        const logs = [s.record(a), s.record(b)];
        await a.addConnection(conn('a1', 'ada'));
        await b.addConnection(conn('b1', 'bob'));
        await a.removeConnection('a1');
        await s.eventually(() => logs.every((l) => l.length === 3), graceMs + propagateMs, 'ada offline');
        await a.addConnection(conn('a2', 'ada')); // a second session
        await b.removeConnection('a2');
        await s.advance(graceMs * 3);
        await s.eventually(() => logs.every((l) => l.length === 5), propagateMs, 'ada offline again');
        for (const log of logs) {
          assert.deepEqual(byUser(log, 'ada'), ['online', 'offline', 'online', 'offline']);
          assert.deepEqual(byUser(log, 'bob'), ['online']);
          const ada = log.filter((e) => e.userId === 'ada');
          assert.deepEqual(
            origins(ada),
            [a.nodeId, a.nodeId, a.nodeId, b.nodeId],
            'the removing node decides',
          );
        }
        assert.deepEqual(await a.onlineUsers(), ['bob']);
      });
    });

    describe('connections and groups', () => {
      scenario('connections are listed per user with node, transport, connected-at and device', async (s) => {
        const [a, b] = await s.nodes('a', 'b');
        const phone = conn('c1', 'ada', {
          transport: 'LongPolling',
          connectedAt: 1_700_000_000_000,
          device: { type: 'mobile', browser: 'Safari' },
          hubPath: '/hubs/chat',
        });
        await a.addConnection(phone);
        await b.addConnection(conn('c2', 'ada', { connectedAt: 1_700_000_000_500 }));
        await a.addConnection(conn('c3', 'bob'));
        const expected = [
          { ...phone, nodeId: a.nodeId },
          { ...conn('c2', 'ada', { connectedAt: 1_700_000_000_500 }), nodeId: b.nodeId },
        ];
        for (const store of [a, b]) {
          await s.eventually(
            async () => (await store.userConnections('ada')).length === 2,
            propagateMs,
            `node ${store.nodeId} to list both`,
          );
          assert.deepEqual(
            (await store.userConnections('ada')).map((c) => ({ ...c })),
            expected,
            'fields as given, node stamped, oldest first',
          );
        }
        assert.deepEqual(await a.userConnections('nobody'), []);
        assert.deepEqual((await a.onlineUsers()).sort(), ['ada', 'bob']);
      });

      scenario('group counts follow adds, removes and disconnects, from any node', async (s) => {
        const [a, b] = await s.nodes('a', 'b');
        await a.addConnection(conn('a1', 'ada'));
        await b.addConnection(conn('a2', 'ada'));
        await a.addConnection(conn('b1', 'bob'));
        await b.addConnection(conn('c1', 'cy'));
        await a.addToGroup('a1', 'room');
        await a.addToGroup('a2', 'room'); // a connection of node b, added from node a
        await b.addToGroup('b1', 'room'); // and the other way round
        await a.addToGroup('a1', 'room'); // twice: harmless
        await b.addToGroup('c1', 'lobby');
        await a.addToGroup('a1', 'lobby');
        await a.addToGroup('ghost', 'room'); // no such connection: no effect
        const expectGroups = async (room: [number, string[]], lobby: [number, string[]]) => {
          for (const store of [a, b]) {
            await s.eventually(
              async () => (await groupState(store, 'room')).count === room[0],
              propagateMs,
              `room on node ${store.nodeId}`,
            );
            assert.deepEqual(await groupState(store, 'room'), { count: room[0], users: room[1] });
            assert.deepEqual(await groupState(store, 'lobby'), { count: lobby[0], users: lobby[1] });
            assert.deepEqual(await groupState(store, 'Room'), { count: 0, users: [] }, 'case-sensitive');
          }
        };
        await expectGroups([3, ['ada', 'bob']], [2, ['ada', 'cy']]);
        await b.removeFromGroup('a2', 'room'); // ada is still in through a1
        await expectGroups([2, ['ada', 'bob']], [2, ['ada', 'cy']]);
        await b.removeFromGroup('a1', 'room'); // a node-a connection, removed from node b
        await b.removeFromGroup('a1', 'room'); // twice: harmless
        await expectGroups([1, ['bob']], [2, ['ada', 'cy']]);
        await a.removeConnection('a1'); // leaves lobby with it
        await a.removeConnection('b1');
        await expectGroups([0, []], [1, ['cy']]);
        await a.removeConnection('ghost');
        await b.removeFromGroup('ghost', 'lobby');
        await a.addConnection(conn('a3', 'ada')); // a new connection starts in no group
        await expectGroups([0, []], [1, ['cy']]);
      });

      scenario('adding a connection id twice counts it once and announces nothing more', async (s) => {
        const [a] = await s.nodes('a');
        const log = s.record(a);
        await a.addConnection(conn('c1', 'ada'));
        await a.addToGroup('c1', 'room');
        await a.addConnection(conn('c1', 'ada', { transport: 'ServerSentEvents' }));
        assert.deepEqual(
          (await a.userConnections('ada')).map((c) => c.transport),
          ['ServerSentEvents'],
          'updated in place',
        );
        assert.equal(await a.groupConnectionCount('room'), 1);
        assert.deepEqual(
          (await a.groupConnections('room')).map((c) => `${c.connectionId}/${c.userId}/${c.nodeId}`),
          [`c1/ada/${a.nodeId}`],
        );
        await a.removeConnection('c1');
        await s.advance(graceMs * 3);
        assert.deepEqual(kinds(log), ['online:ada', 'offline:ada']);
        assert.equal(await a.groupConnectionCount('room'), 0);
        assert.deepEqual(await a.groupConnections('room'), []);
      });
    });

    describe('subscribers', () => {
      scenario(
        'an unsubscribed listener hears nothing more, and a throwing one stops no other',
        async (s) => {
          const [a] = await s.nodes('a');
          const kept: PresenceEvent[] = [];
          const dropped: PresenceEvent[] = [];
          let thrown = 0;
          a.subscribe(() => {
            thrown++;
            throw new Error('listener failure (expected by the test)');
          });
          const unsubscribe = a.subscribe((e) => dropped.push(e));
          a.subscribe((e) => kept.push(e));
          await a.addConnection(conn('c1', 'ada'));
          unsubscribe();
          unsubscribe(); // twice: harmless
          await a.addConnection(conn('c2', 'bob'));
          const late = s.record(a); // a late subscriber hears only what follows
          await a.removeConnection('c1');
          await s.eventually(() => kept.length === 3, graceMs + propagateMs, 'the offline');
          assert.deepEqual(kinds(kept), ['online:ada', 'online:bob', 'offline:ada']);
          assert.deepEqual(kinds(dropped), ['online:ada']);
          assert.deepEqual(kinds(late), ['offline:ada']);
          assert.equal(thrown, 3);
          assert.equal(await a.isOnline('bob'), true, 'the store still works');
        },
      );
    });

    describe('nodes leaving', () => {
      scenario(
        "a dead node's connections stay while its lease holds, then leave once; users connected elsewhere stay online",
        async (s) => {
          const [a, b, c] = await s.nodes('a', 'b', 'c');
          const logs = [s.record(b), s.record(b), s.record(c)];
          await a.addConnection(conn('a-ada', 'ada'));
          await a.addConnection(conn('a-bob', 'bob'));
          await b.addConnection(conn('b-bob', 'bob'));
          await a.addToGroup('a-ada', 'room');
          await a.addToGroup('a-bob', 'room');
          await b.addToGroup('b-bob', 'room');
          await s.eventually(() => logs.every((l) => l.length === 2), propagateMs, 'both online');
          await s.backend.crash(a);
          // Heartbeats come at least three times a lease, so the lease holds for two thirds of it yet.
          await s.advance(leaseMs / 2);
          assert.deepEqual(ids(await c.userConnections('ada')), ['a-ada'], 'kept while the lease holds');
          assert.equal(await c.groupConnectionCount('room'), 3);
          assert.equal(await b.isOnline('ada'), true);
          await s.eventually(
            async () => (await c.groupConnectionCount('room')) === 1,
            leaseMs * 2,
            "the dead node's connections to be swept",
          );
          assert.deepEqual(ids(await c.userConnections('bob')), ['b-bob']);
          assert.deepEqual(await c.userConnections('ada'), []);
          assert.deepEqual(await c.groupUsers('room'), ['bob']);
          await s.eventually(
            () => logs.every((l) => l.length === 3),
            graceMs + propagateMs,
            'ada offline on every subscriber',
          );
          await s.advance(leaseMs * 2 + graceMs * 2); // a second sweep or announcement would show now
          for (const log of logs) assert.deepEqual(kinds(log), ['online:ada', 'online:bob', 'offline:ada']);
          const sweptBy = logs[0]![2]!.originNodeId;
          assert.ok(
            [b.nodeId, c.nodeId].includes(sweptBy),
            `a live node decides the offline, not ${sweptBy}`,
          );
          for (const log of logs) assert.deepEqual(origins(log), [a.nodeId, a.nodeId, sweptBy], 'one origin');
          assert.deepEqual(await b.onlineUsers(), ['bob']);
        },
      );

      scenario('a user whose node died and who reconnects elsewhere in time announces nothing', async (s) => {
        const [a, b] = await s.nodes('a', 'b');
        const log = s.record(b);
        await a.addConnection(conn('c1', 'ada'));
        await s.backend.crash(a);
        await b.addConnection(conn('c2', 'ada')); // the client's automatic reconnect
        await s.advance(leaseMs * 3 + graceMs * 3);
        assert.deepEqual(kinds(log), ['online:ada']);
        assert.deepEqual(ids(await b.userConnections('ada')), ['c2']);
      });

      scenario(
        'closing a node removes its connections; its users leave after the grace unless elsewhere',
        async (s) => {
          const [a, b] = await s.nodes('a', 'b');
          const log = s.record(b);
          await a.addConnection(conn('a1', 'ada'));
          await a.addConnection(conn('a2', 'bob'));
          await b.addConnection(conn('b1', 'bob'));
          await a.addConnection(conn('a3', 'cy'));
          await a.removeConnection('a3'); // cy's grace runs when a leaves
          await a.addToGroup('a1', 'room');
          await a.close();
          await a.close(); // twice: harmless
          await s.eventually(
            async () => (await b.groupConnectionCount('room')) === 0,
            propagateMs,
            "the closed node's connections to go",
          );
          assert.deepEqual(ids(await b.userConnections('bob')), ['b1']);
          await s.advance(graceMs / 4);
          assert.equal(await b.isOnline('ada'), true, 'within the grace period');
          await s.eventually(() => log.length === 5, graceMs + propagateMs, 'ada and cy offline');
          await s.advance(graceMs * 3);
          assert.deepEqual(kinds(log.slice(0, 3)), ['online:ada', 'online:bob', 'online:cy']);
          assert.deepEqual(kinds(log.slice(3)).sort(), ['offline:ada', 'offline:cy']);
          assert.deepEqual(origins(log.slice(3)), [b.nodeId, b.nodeId], 'the closed node decides nothing');
          await a.removeConnection('a1'); // a shutdown race: harmless
          await a.removeFromGroup('a1', 'room');
          await assert.rejects(a.addConnection(conn('a3', 'cy')));
          await assert.rejects(a.isOnline('bob'));
        },
      );
    });
  });
}

/** A scenario's backend, its nodes, and the polling helpers. */
class Scenario {
  constructor(
    readonly backend: PresenceTestBackend,
    private readonly pollMs: number,
  ) {}

  /** Creates one node per id. */
  nodes(...nodeIds: string[]): Promise<PresenceStore[]> {
    return Promise.all(nodeIds.map((id) => this.backend.node(id)));
  }

  /** Records every event a new subscriber of `store` hears. */
  record(store: PresenceStore): PresenceEvent[] {
    const log: PresenceEvent[] = [];
    store.subscribe((event) => log.push(event));
    return log;
  }

  advance(ms: number): Promise<void> {
    return this.backend.advance(ms);
  }

  /** Lets time pass in small steps until `predicate` holds, failing after `withinMs` of it. */
  async eventually(
    predicate: () => boolean | Promise<boolean>,
    withinMs: number,
    what: string,
  ): Promise<void> {
    for (let waited = 0; !(await predicate()); waited += this.pollMs) {
      if (waited >= withinMs) assert.fail(`waited ${withinMs} ms for ${what}`);
      await this.backend.advance(this.pollMs);
    }
  }
}

function conn(
  connectionId: string,
  userId: string,
  overrides: Partial<NewPresenceConnection> = {},
): NewPresenceConnection {
  return {
    connectionId,
    userId,
    transport: 'WebSockets',
    connectedAt: 1_700_000_000_000,
    device: { type: 'desktop', browser: 'Firefox' },
    ...overrides,
  };
}

function kinds(log: readonly PresenceEvent[]): string[] {
  return log.map((e) => `${e.type === 'userOnline' ? 'online' : 'offline'}:${e.userId}`);
}

function origins(log: readonly PresenceEvent[]): string[] {
  return log.map((e) => e.originNodeId);
}

function byUser(log: readonly PresenceEvent[], userId: string): string[] {
  return log.filter((e) => e.userId === userId).map((e) => (e.type === 'userOnline' ? 'online' : 'offline'));
}

function ids(connections: readonly { connectionId: string }[]): string[] {
  return connections.map((c) => c.connectionId);
}

async function groupState(store: PresenceStore, group: string): Promise<{ count: number; users: string[] }> {
  const [count, users, userCount] = await Promise.all([
    store.groupConnectionCount(group),
    store.groupUsers(group),
    store.groupUserCount(group),
  ]);
  assert.equal(userCount, users.length, `groupUserCount agrees with groupUsers for '${group}'`);
  return { count, users: users.sort() };
}
