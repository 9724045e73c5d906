/**
 * The conformance suite every {@link HubLifetimeManager} runs: the in-memory default now, the Redis
 * and PostgreSQL backplanes in their packages. It uses the public contract only
 * (hub-lifetime-manager.ts) and fake connections that record the bytes written to them.
 *
 * Connections are spread over the nodes the backend offers (connection i on node i mod n), and group
 * changes are made from another node than the connection's, so with several nodes every case is
 * also a cross-node case; with one node (the in-memory default) everything is local and the
 * "across nodes" cases are skipped with a reason.
 *
 * Client results (`invokeConnection` and `setConnectionResult`, a hub awaiting a client's answer)
 * are called from another node than the connection's, and answered on the connection's node, as a
 * server does when the client's Completion arrives.
 * @module
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CompletionMessage,
  type HubProtocol,
  jsonHubProtocol,
  MessageType,
  messagePackHubProtocol,
} from '@switchboard/protocol';
import type {
  CloseConnectionOptions,
  HubConnectionRef,
  HubLifetimeManager,
  SerializedHubMessage,
} from '@switchboard/server';
import { within } from '../clients.js';

/** One fresh backend with its nodes. */
export interface HubLifetimeManagerTestBackend {
  /**
   * The managers of the nodes, all on one backend (one hub). A single one when the implementation
   * cannot share state between instances, as the in-memory default.
   */
  readonly nodes: readonly HubLifetimeManager[];
  /**
   * Resolves once everything sent so far has reached every node, so that the suite can assert what
   * did NOT arrive: nothing to wait for in memory; for a backplane, a marker through every channel in
   * use, or a sleep longer than its delivery takes.
   */
  settle(): Promise<void>;
  /** Closes the managers and frees the backend. */
  close(): Promise<void>;
}

/** Creates a backend of `nodeCount` nodes (the suite's `nodes` option). Called once per test. */
export type HubLifetimeManagerFactory = (nodeCount: number) => Promise<HubLifetimeManagerTestBackend>;

/** Options of {@link hubLifetimeManagerSuite}. */
export interface HubLifetimeManagerSuiteOptions {
  /** How many nodes to ask the factory for; 1 for a manager that cannot share. Default 1. */
  nodes?: number;
  /** How long a delivery may take to arrive. Default 5 000 ms. */
  deliveryTimeoutMs?: number;
}

/**
 * A {@link HubConnectionRef} that records what it is sent, serialized in its own protocol, and can
 * be made to fail.
 */
export class RecordingConnection implements HubConnectionRef {
  /** The bytes of each write, in order. */
  readonly frames: Buffer[] = [];
  /** The message objects written, in order (recipients on one node share them). */
  readonly messages: SerializedHubMessage[] = [];
  /** When set, every write throws (a broken implementation of the never-throws rule). */
  failing = false;

  constructor(
    readonly connectionId: string,
    readonly userIdentifier: string | undefined = undefined,
    readonly protocol: HubProtocol = jsonHubProtocol,
  ) {}

  /** The options of each server-side close, in order. */
  readonly closes: CloseConnectionOptions[] = [];

  close(options: CloseConnectionOptions = {}): void {
    this.closes.push(options);
  }

  writeMessage(message: SerializedHubMessage): void {
    if (this.failing) throw new Error(`write to ${this.connectionId} failed (expected by the test)`);
    this.messages.push(message);
    this.frames.push(message.getSerialized(this.protocol));
  }

  /** The invocations received, parsed back from the bytes. */
  invocations(): { target: string; arguments: unknown[]; invocationId: string | undefined }[] {
    const { messages } = this.protocol.parseMessages(Buffer.concat(this.frames));
    return messages.map((m) => {
      assert.equal(m.type, MessageType.Invocation, `${this.connectionId} got a non-invocation`);
      const inv = m as { target: string; arguments: unknown[]; invocationId?: string };
      return { target: inv.target, arguments: inv.arguments, invocationId: inv.invocationId };
    });
  }

  /** The first argument of every invocation received: the tests' message tags. */
  tags(): unknown[] {
    return this.invocations().map((i) => i.arguments[0]);
  }

  clear(): void {
    this.frames.length = 0;
    this.messages.length = 0;
  }
}

/**
 * Registers the lifetime manager conformance tests under `describe(name)`.
 *
 * @example
 * ```ts
 * hubLifetimeManagerSuite('RedisHubLifetimeManager', async (n) => {
 *   const prefix = `test:${randomUUID()}:`;
 *   const nodes = Array.from({ length: n }, () => new RedisHubLifetimeManager({ url, prefix }));
 *   return { nodes, settle: () => sleep(50), close: async () => { for (const m of nodes) await m.close(); } };
 * }, { nodes: 3 });
 * ```
 */
export function hubLifetimeManagerSuite(
  name: string,
  factory: HubLifetimeManagerFactory,
  options: HubLifetimeManagerSuiteOptions = {},
): void {
  const nodeCount = options.nodes ?? 1;
  const timeoutMs = options.deliveryTimeoutMs ?? 5_000;

  const scenario = (title: string, body: (c: Cluster) => Promise<void>) =>
    test(title, async () => {
      const backend = await factory(nodeCount);
      assert.equal(backend.nodes.length, nodeCount, 'the factory made the nodes asked for');
      try {
        await body(new Cluster(backend, timeoutMs));
      } finally {
        await backend.close();
      }
    });

  describe(name, () => {
    describe('sends', () => {
      scenario('sendAll reaches every connection on every node once, from every node', async (c) => {
        const all = await c.connectMany(6);
        for (const [i, node] of c.nodes.entries()) await node.sendAll('m', [`all-${i}`]);
        const expected = c.nodes.map((_, i) => `all-${i}`);
        await c.expect(new Map(all.map((conn) => [conn, expected])));
      });

      scenario('sendAllExcept skips the excluded connections wherever they are', async (c) => {
        const all = await c.connectMany(6);
        const excluded = [all[0]!.connectionId, all[3]!.connectionId, 'no-such-connection'];
        await c.last.sendAllExcept('m', ['x'], excluded);
        await c.expect(new Map(all.map((conn) => [conn, excluded.includes(conn.connectionId) ? [] : ['x']])));
      });

      scenario(
        'sendConnection and sendConnections reach exactly the listed connections, once each',
        async (c) => {
          const all = await c.connectMany(6);
          for (const [i, conn] of all.entries())
            await c.node(i + 1).sendConnection(conn.connectionId, 'm', [`to-${i}`]);
          await c.first.sendConnection('no-such-connection', 'm', ['lost']); // resolves, reaches nobody
          const listed = [
            all[1]!.connectionId,
            all[4]!.connectionId,
            all[1]!.connectionId,
            'no-such-connection',
          ];
          await c.last.sendConnections(listed, 'm', ['several']);
          await c.expect(
            new Map(all.map((conn, i) => [conn, i === 1 || i === 4 ? [`to-${i}`, 'several'] : [`to-${i}`]])),
          );
        },
      );

      scenario("sendGroup reaches the group's members only; names are case-sensitive", async (c) => {
        const all = await c.connectMany(6);
        await c.join(all, [0, 2, 3], 'room');
        await c.join(all, [1], 'Room');
        await c.first.sendGroup('room', 'm', ['room']);
        await c.last.sendGroup('Room', 'm', ['Room']);
        await c.first.sendGroup('empty', 'm', ['nobody']);
        await c.expect(c.tagsFor(all, { 0: ['room'], 1: ['Room'], 2: ['room'], 3: ['room'] }));
      });

      scenario('sendGroups reaches a member of several listed groups once', async (c) => {
        const all = await c.connectMany(6);
        await c.join(all, [0, 1, 2], 'a');
        await c.join(all, [2, 3, 0], 'b');
        await c.join(all, [4], 'c');
        await c.last.sendGroups(['a', 'b', 'a', 'missing'], 'm', ['ab']);
        await c.expect(c.tagsFor(all, { 0: ['ab'], 1: ['ab'], 2: ['ab'], 3: ['ab'] }));
      });

      scenario('sendGroupExcept skips the excluded members', async (c) => {
        const all = await c.connectMany(6);
        await c.join(all, [0, 1, 2, 3], 'room');
        await c.first.sendGroupExcept('room', 'm', ['x'], [all[1]!.connectionId, all[5]!.connectionId]);
        await c.expect(c.tagsFor(all, { 0: ['x'], 2: ['x'], 3: ['x'] }));
      });

      scenario("sendUser and sendUsers reach every one of the users' connections once", async (c) => {
        // ada has three connections (spread over the nodes), bob one, two are anonymous.
        const users = ['ada', 'bob', 'ada', undefined, 'ada', undefined];
        const all = await c.connectMany(users.length, (i) => users[i]);
        await c.first.sendUser('ada', 'm', ['ada']);
        await c.last.sendUsers(['bob', 'ada', 'bob', 'nobody'], 'm', ['both']);
        await c.first.sendUser('nobody', 'm', ['lost']);
        await c.expect(
          c.tagsFor(all, { 0: ['ada', 'both'], 1: ['both'], 2: ['ada', 'both'], 4: ['ada', 'both'] }),
        );
      });

      scenario("one caller's sends to one target arrive in the order they were made", async (c) => {
        const all = await c.connectMany(4);
        await c.join(all, [0, 1, 2, 3], 'room');
        const tags = Array.from({ length: 50 }, (_, i) => i);
        for (const tag of tags) await c.last.sendGroup('room', 'm', [tag]);
        await c.expect(new Map(all.map((conn) => [conn, tags])), { ordered: true });
      });

      scenario(
        'each connection gets its own protocol, and recipients on one node share one message',
        async (c) => {
          const all = await c.connectMany(
            6,
            () => undefined,
            (i) => (i % 2 ? messagePackHubProtocol : jsonHubProtocol),
          );
          await c.first.sendAll('Receive', ['text', 42, { nested: [true, null] }]);
          await c.expect(new Map(all.map((conn) => [conn, ['text']])), { keep: true });
          for (const conn of all) {
            assert.deepEqual(
              conn.invocations(),
              [
                {
                  target: 'Receive',
                  arguments: ['text', 42, { nested: [true, null] }],
                  invocationId: undefined,
                },
              ],
              `${conn.connectionId} (${conn.protocol.name}) parses back to the invocation sent`,
            );
          }
          for (const [n] of c.nodes.entries()) {
            const local = all.filter((_, i) => i % c.nodes.length === n);
            const shared = new Set(local.map((conn) => conn.messages[0]));
            assert.equal(
              shared.size,
              1,
              `node ${n} serialized one message for its ${local.length} recipients`,
            );
          }
        },
      );
    });

    describe('groups and lifetime', () => {
      scenario(
        'adding twice is harmless, removing stops delivery, unknown connections change nothing',
        async (c) => {
          const all = await c.connectMany(4);
          await c.join(all, [0, 1, 2], 'room');
          await c.join(all, [0], 'room'); // again
          await c.first.addToGroup('no-such-connection', 'room');
          await c.first.removeFromGroup('no-such-connection', 'room');
          await c.first.sendGroup('room', 'm', ['1']);
          await c.expect(c.tagsFor(all, { 0: ['1'], 1: ['1'], 2: ['1'] }));
          await c.node(2).removeFromGroup(all[1]!.connectionId, 'room');
          await c.node(2).removeFromGroup(all[1]!.connectionId, 'room'); // again
          await c.node(3).removeFromGroup(all[3]!.connectionId, 'room'); // never in it
          await c.last.sendGroup('room', 'm', ['2']);
          await c.expect(c.tagsFor(all, { 0: ['2'], 2: ['2'] }));
        },
      );

      scenario(
        'onDisconnected takes a connection out of everything; the others keep their groups',
        async (c) => {
          const users = ['ada', 'ada', 'bob', 'cy'];
          const all = await c.connectMany(users.length, (i) => users[i]);
          await c.join(all, [0, 1, 2], 'room');
          await c.nodeOf(0).onDisconnected(all[0]!);
          await c.nodeOf(2).onDisconnected(all[2]!);
          await c.nodeOf(2).onDisconnected(all[2]!); // twice: harmless
          await c.first.onDisconnected(new RecordingConnection('never-connected', 'ada'));
          await c.first.sendAll('m', ['all']);
          await c.last.sendGroup('room', 'm', ['room']);
          await c.first.sendUser('ada', 'm', ['ada']);
          await c.last.sendUser('bob', 'm', ['bob']);
          await c.first.sendConnection(all[0]!.connectionId, 'm', ['direct']);
          await c.expect(c.tagsFor(all, { 1: ['all', 'room', 'ada'], 3: ['all'] }));
          // A new connection under an old id starts with no groups.
          const again = new RecordingConnection(all[0]!.connectionId, 'ada');
          await c.nodeOf(0).onConnected(again);
          await c.last.sendGroup('room', 'm', ['room-again']);
          await c.expect(
            new Map([
              [again, []],
              [all[1]!, ['room-again']],
            ]),
          );
        },
      );

      scenario(
        'a connection whose writes throw neither stops a broadcast nor makes a send reject',
        async (c) => {
          const users = ['ada', 'ada', 'ada', 'ada'];
          const all = await c.connectMany(users.length, (i) => users[i]);
          await c.join(all, [0, 1, 2, 3], 'room');
          all[0]!.failing = true;
          all[2]!.failing = true;
          await c.first.sendAll('m', ['all']);
          await c.last.sendGroup('room', 'm', ['room']);
          await c.first.sendUser('ada', 'm', ['user']);
          await c.last.sendGroups(['room'], 'm', ['groups']);
          const expected = ['all', 'room', 'user', 'groups'];
          await c.expect(c.tagsFor(all, { 1: expected, 3: expected }));
        },
      );
    });

    describe('client results', () => {
      scenario(
        "invokeConnection sends an Invocation with an id to that connection only; the Completion's result resolves it",
        async (c) => {
          const all = await c.connectMany(3);
          const target = all[1]!;
          const first = c.node(2).invokeConnection(target.connectionId, 'ask', ['q', 1]);
          const second = c.node(0).invokeConnection(target.connectionId, 'ask', ['again']);
          // Calls from two nodes have no order between them: match each by its arguments.
          const received = await c.invocationsOf(target, 2);
          const a = received.find((m) => m.arguments.length === 2);
          const b = received.find((m) => m.arguments.length === 1);
          assert.deepEqual([a?.target, a?.arguments], ['ask', ['q', 1]]);
          assert.deepEqual([b?.target, b?.arguments], ['ask', ['again']]);
          assert.ok(a!.invocationId && b!.invocationId, 'client-result invocations carry an id');
          assert.notEqual(
            a!.invocationId,
            b!.invocationId,
            'pending results of one connection have distinct ids',
          );
          await c.backend.settle();
          assert.equal(all[0]!.frames.length + all[2]!.frames.length, 0, 'the other connections got nothing');
          // Answered out of order: each id settles its own call.
          await c
            .nodeOf(1)
            .setConnectionResult(target.connectionId, completion(b!.invocationId!, { result: null }));
          await c
            .nodeOf(1)
            .setConnectionResult(
              target.connectionId,
              completion(a!.invocationId!, { result: { answer: 42 } }),
            );
          assert.deepEqual(await within(first, c.timeoutMs), { answer: 42 });
          assert.equal(await within(second, c.timeoutMs), null);
          // A late or unknown answer is ignored.
          await c
            .nodeOf(1)
            .setConnectionResult(target.connectionId, completion(a!.invocationId!, { result: 1 }));
          await c.nodeOf(1).setConnectionResult(target.connectionId, completion('no-such-id', { result: 1 }));
        },
      );

      scenario("a Completion with an error rejects with the client's text", async (c) => {
        const all = await c.connectMany(2);
        const pending = c.last.invokeConnection(all[0]!.connectionId, 'ask', []);
        const [inv] = await c.invocationsOf(all[0]!, 1);
        await c
          .nodeOf(0)
          .setConnectionResult(
            all[0]!.connectionId,
            completion(inv!.invocationId!, { error: 'Error: from callback' }),
          );
        await assert.rejects(within(pending, c.timeoutMs), { message: 'Error: from callback' });
      });

      scenario(
        'an unknown connection rejects at once; a disconnect rejects what it had pending',
        async (c) => {
          await assert.rejects(c.first.invokeConnection('no-such-connection', 'ask', []), {
            code: 'SB_ERR_CLIENT_RESULT_FAILED',
            message: "Connection 'no-such-connection' does not exist.",
          });
          const all = await c.connectMany(2);
          const pending = c.last.invokeConnection(all[0]!.connectionId, 'ask', []);
          const rejected = assert.rejects(within(pending, c.timeoutMs), {
            code: 'SB_ERR_CLIENT_RESULT_FAILED',
            message: `Connection '${all[0]!.connectionId}' disconnected.`,
          });
          await c.invocationsOf(all[0]!, 1);
          await c.nodeOf(0).onDisconnected(all[0]!);
          await rejected;
        },
      );

      scenario(
        'a timeout or an aborted signal rejects; the answer that comes later is ignored',
        async (c) => {
          const all = await c.connectMany(2);
          const id = all[0]!.connectionId;
          await assert.rejects(c.last.invokeConnection(id, 'ask', [], { timeoutMs: 30 }), {
            code: 'SB_ERR_CLIENT_RESULT_TIMEOUT',
            message: `Timed out waiting for a result from connection '${id}'.`,
          });
          const controller = new AbortController();
          const aborted = c.last.invokeConnection(id, 'ask', [], { signal: controller.signal });
          const reason = new Error('the caller gave up');
          controller.abort(reason);
          await assert.rejects(aborted, (e: unknown) => e === reason);
          const [first, second] = await c.invocationsOf(all[0]!, 2);
          await c.nodeOf(0).setConnectionResult(id, completion(first!.invocationId!, { result: 'late' }));
          await c.nodeOf(0).setConnectionResult(id, completion(second!.invocationId!, { result: 'late' }));
          // The connection still answers new calls.
          const again = c.last.invokeConnection(id, 'ask', []);
          const [, , third] = await c.invocationsOf(all[0]!, 3);
          await c.nodeOf(0).setConnectionResult(id, completion(third!.invocationId!, { result: 'ok' }));
          assert.equal(await within(again, c.timeoutMs), 'ok');
        },
      );
    });

    describe('across nodes', { skip: nodeCount < 2 && 'this implementation runs one node' }, () => {
      scenario('a connection on one node joins and leaves a group by calls on another', async (c) => {
        const onA = new RecordingConnection('on-a');
        const onB = new RecordingConnection('on-b');
        await c.node(0).onConnected(onA);
        await c.node(1).onConnected(onB);
        await c.node(0).addToGroup('on-b', 'room'); // remote add: resolves once it holds
        await c.node(0).sendGroup('room', 'm', ['from-a']);
        await c.node(1).sendGroup('room', 'm', ['from-b']);
        await c.expect(
          new Map([
            [onA, []],
            [onB, ['from-a', 'from-b']],
          ]),
        );
        await c.node(0).removeFromGroup('on-b', 'room'); // remote remove
        await c.node(1).sendGroup('room', 'm', ['after']);
        await c.expect(
          new Map([
            [onA, []],
            [onB, []],
          ]),
        );
      });

      scenario(
        'sends to local and remote recipients reach each once (no echo from the backplane)',
        async (c) => {
          const users = ['ada', 'ada', 'ada', 'ada'];
          const all = await c.connectMany(users.length, (i) => users[i]); // ada on every node
          await c.join(all, [0, 1, 2, 3], 'room');
          for (const node of c.nodes) {
            await node.sendAll('m', ['all']);
            await node.sendGroup('room', 'm', ['room']);
            await node.sendUser('ada', 'm', ['user']);
            await node.sendConnections(
              all.map((conn) => conn.connectionId),
              'm',
              ['list'],
            );
          }
          const once = c.nodes.flatMap(() => ['all', 'room', 'user', 'list']);
          await c.expect(new Map(all.map((conn) => [conn, once])));
        },
      );
    });
  });
}

/** A Completion as a client sends it for a client result. */
function completion(
  invocationId: string,
  outcome: { result: unknown } | { error: string },
): CompletionMessage {
  return 'error' in outcome
    ? { type: MessageType.Completion, invocationId, hasResult: false, error: outcome.error }
    : { type: MessageType.Completion, invocationId, hasResult: true, result: outcome.result };
}

/** A test's nodes and connections, and the delivery checks. */
class Cluster {
  readonly nodes: readonly HubLifetimeManager[];

  constructor(
    readonly backend: HubLifetimeManagerTestBackend,
    readonly timeoutMs: number,
  ) {
    this.nodes = backend.nodes;
  }

  /** Waits until a connection has received `count` invocations and returns them. */
  async invocationsOf(
    connection: RecordingConnection,
    count: number,
  ): Promise<ReturnType<RecordingConnection['invocations']>> {
    const deadline = Date.now() + this.timeoutMs;
    while (connection.frames.length < count) {
      if (Date.now() > deadline) {
        assert.fail(`${connection.connectionId} got ${connection.frames.length}/${count} invocations`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return connection.invocations();
  }

  get first(): HubLifetimeManager {
    return this.nodes[0]!;
  }

  get last(): HubLifetimeManager {
    return this.nodes[this.nodes.length - 1]!;
  }

  /** Node `i`, wrapping around. */
  node(i: number): HubLifetimeManager {
    return this.nodes[i % this.nodes.length]!;
  }

  /** The node that holds connection number `i`. */
  nodeOf(i: number): HubLifetimeManager {
    return this.node(i);
  }

  /** Connects `count` connections, number i on node i mod n. */
  async connectMany(
    count: number,
    user: (i: number) => string | undefined = () => undefined,
    protocol: (i: number) => HubProtocol = () => jsonHubProtocol,
  ): Promise<RecordingConnection[]> {
    const connections: RecordingConnection[] = [];
    for (let i = 0; i < count; i++) {
      const connection = new RecordingConnection(`conn-${i}`, user(i), protocol(i));
      await this.nodeOf(i).onConnected(connection);
      connections.push(connection);
    }
    return connections;
  }

  /** Adds connections (by number) to a group, each from the node after its own. */
  async join(all: readonly RecordingConnection[], numbers: readonly number[], group: string): Promise<void> {
    for (const i of numbers) await this.node(i + 1).addToGroup(all[i]!.connectionId, group);
  }

  /** Expected tags per connection, by number; unlisted connections expect nothing. */
  tagsFor(
    all: readonly RecordingConnection[],
    byNumber: Record<number, unknown[]>,
  ): Map<RecordingConnection, unknown[]> {
    return new Map(all.map((conn, i) => [conn, byNumber[i] ?? []]));
  }

  /**
   * Waits until each connection has received as many messages as expected, lets the backend settle,
   * and checks that each received exactly its tags: nothing missing, nothing twice, nothing extra.
   * Tags from several senders may interleave, so they are compared as multisets unless `ordered`.
   * Then forgets what they received, unless `keep`.
   */
  async expect(
    expected: Map<RecordingConnection, unknown[]>,
    options: { ordered?: boolean; keep?: boolean } = {},
  ): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const short = [...expected].filter(([conn, tags]) => conn.frames.length < tags.length);
      if (short.length === 0) break;
      if (Date.now() > deadline) {
        const list = short.map(([conn, tags]) => `${conn.connectionId} ${conn.frames.length}/${tags.length}`);
        assert.fail(`deliveries missing after ${this.timeoutMs} ms: ${list.join(', ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await this.backend.settle();
    for (const [conn, tags] of expected) {
      const got = conn.tags();
      if (options.ordered) assert.deepEqual(got, tags, `${conn.connectionId} received`);
      else assert.deepEqual(sorted(got), sorted(tags), `${conn.connectionId} received`);
    }
    if (!options.keep) for (const conn of expected.keys()) conn.clear();
  }
}

function sorted(tags: readonly unknown[]): string[] {
  return tags.map((t) => JSON.stringify(t)).sort();
}
