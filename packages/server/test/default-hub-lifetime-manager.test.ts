// DefaultHubLifetimeManager on its own, without a network: fake connections that count every read
// of their id and user id and record the bytes written to them, and protocols that count their
// serializations. These prove by counters (not timing) that a broadcast is serialized once per
// protocol, that users and groups are reached through an index, that one broken connection does
// not stop a send, and that a connection leaves every index when it disconnects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type HubMessage,
  type HubProtocol,
  jsonHubProtocol,
  MessageType,
  messagePackHubProtocol,
} from '@switchboard/protocol';
import {
  DefaultHubLifetimeManager,
  type HubConnectionRef,
  type SerializedHubMessage,
} from '@switchboard/server';

/** A protocol that counts its serializations. */
class CountingProtocol implements HubProtocol {
  writes = 0;
  constructor(private readonly inner: HubProtocol) {}
  get name() {
    return this.inner.name;
  }
  get version() {
    return this.inner.version;
  }
  get transferFormat() {
    return this.inner.transferFormat;
  }
  parseMessages(input: Uint8Array) {
    return this.inner.parseMessages(input);
  }
  writeMessage(message: HubMessage): Buffer {
    this.writes++;
    return this.inner.writeMessage(message);
  }
}

/** A connection that counts reads of its identity and records what it is sent. */
class FakeConnection implements HubConnectionRef {
  idReads = 0;
  userReads = 0;
  readonly received: Buffer[] = [];
  constructor(
    private readonly id: string,
    private readonly user: string | undefined,
    private readonly protocol: HubProtocol,
  ) {}
  closed = 0;
  close(): void {
    this.closed++;
  }
  get connectionId() {
    this.idReads++;
    return this.id;
  }
  get userIdentifier() {
    this.userReads++;
    return this.user;
  }
  writeMessage(message: SerializedHubMessage): void {
    this.received.push(message.getSerialized(this.protocol));
  }
  resetCounters() {
    this.idReads = 0;
    this.userReads = 0;
  }
  /** The messages received, decoded. */
  messages(): HubMessage[] {
    return this.received.flatMap((bytes) => this.protocol.parseMessages(bytes).messages);
  }
}

class ThrowingConnection extends FakeConnection {
  attempts = 0;
  override writeMessage(): void {
    this.attempts++;
    throw new Error('broken pipe');
  }
}

async function setup(
  count: number,
  options: { protocol?: HubProtocol; user?: (i: number) => string | undefined } = {},
) {
  const protocol = options.protocol ?? new CountingProtocol(jsonHubProtocol);
  const manager = new DefaultHubLifetimeManager();
  const connections = Array.from(
    { length: count },
    (_, i) => new FakeConnection(`c${i}`, options.user?.(i), protocol),
  );
  for (const c of connections) await manager.onConnected(c);
  return { manager, connections, protocol };
}

const receivers = (connections: readonly FakeConnection[]) =>
  connections.filter((c) => c.received.length > 0).map((c) => c.connectionId);

const invocation = (target: string, args: unknown[]) => ({
  type: MessageType.Invocation,
  target,
  arguments: args,
});

test('sendAll to 1,000 connections serializes once and writes the same bytes to each', async () => {
  const protocol = new CountingProtocol(jsonHubProtocol);
  const { manager, connections } = await setup(1_000, { protocol });
  await manager.sendAll('news', ['hello', 42]);
  assert.equal(protocol.writes, 1);
  const first = connections[0]!.received[0]!;
  for (const c of connections) {
    assert.equal(c.received.length, 1);
    assert.equal(c.received[0], first, 'the very same buffer');
  }
  assert.deepEqual(connections[999]!.messages(), [invocation('news', ['hello', 42])]);
});

test('two protocols in use mean exactly two serializations per send, whatever the target', async () => {
  const json = new CountingProtocol(jsonHubProtocol);
  const msgpack = new CountingProtocol(messagePackHubProtocol);
  const manager = new DefaultHubLifetimeManager();
  const connections = Array.from(
    { length: 200 },
    (_, i) => new FakeConnection(`c${i}`, `u${i % 3}`, i % 2 === 0 ? json : msgpack),
  );
  for (const c of connections) {
    await manager.onConnected(c);
    await manager.addToGroup(c.connectionId, `g${c.connectionId.length % 2}`);
  }
  const sends: (() => Promise<void>)[] = [
    () => manager.sendAll('m', [1]),
    () => manager.sendAllExcept('m', [2], ['c0']),
    () => manager.sendConnections(['c0', 'c1', 'c2', 'c3'], 'm', [3]),
    () => manager.sendGroup('g0', 'm', [4]),
    () => manager.sendGroups(['g0', 'g1'], 'm', [5]),
    () => manager.sendGroupExcept('g1', 'm', [6], ['c10']),
    () => manager.sendUser('u1', 'm', [7]),
    () => manager.sendUsers(['u1', 'u2'], 'm', [8]),
  ];
  for (const send of sends) {
    json.writes = 0;
    msgpack.writes = 0;
    await send();
    assert.deepEqual([json.writes, msgpack.writes], [1, 1], send.toString());
  }
  // each side decodes its own format to the same message
  assert.deepEqual(connections[0]!.messages()[0], invocation('m', [1]));
  assert.deepEqual(connections[1]!.messages()[0], invocation('m', [1]));
  assert.notDeepEqual(connections[0]!.received[0], connections[1]!.received[0]);
});

test('sendUser among 10,000 connections touches only that user: no other identity is read, no other write', async () => {
  // user u-i owns connections i, i + 5000 (two tabs each); connection 9999 is anonymous
  const { manager, connections, protocol } = await setup(10_000, {
    user: (i) => (i === 9_999 ? undefined : `u-${i % 5_000}`),
  });
  for (const c of connections) c.resetCounters();
  (protocol as CountingProtocol).writes = 0;

  await manager.sendUser('u-42', 'direct', ['for 42']);

  const mine = new Set([connections[42], connections[5_042]]);
  let othersRead = 0;
  for (const c of connections) {
    if (!mine.has(c)) othersRead += c.idReads + c.userReads;
  }
  assert.equal(othersRead, 0, "other connections' identities were read");
  assert.deepEqual(receivers(connections), ['c42', 'c5042']);
  assert.equal((protocol as CountingProtocol).writes, 1);

  for (const c of connections) c.resetCounters();
  await manager.sendUsers(['u-7', 'u-8', 'u-7', 'nobody'], 'direct', ['for some']);
  const targets = new Set([7, 8, 5_007, 5_008].map((i) => connections[i]));
  for (const c of connections) {
    if (!targets.has(c)) assert.equal(c.idReads + c.userReads, 0, c.connectionId);
  }
  assert.deepEqual(receivers(connections).sort(), ['c42', 'c5007', 'c5008', 'c5042', 'c7', 'c8'].sort());
  for (const i of [7, 8, 5_007, 5_008]) assert.equal(connections[i]!.received.length, 1, `c${i} once`);
  assert.deepEqual(manager.userConnections('u-42').sort(), ['c42', 'c5042']);
});

test('sendGroup among 10,000 connections touches only the members', async () => {
  const { manager, connections } = await setup(10_000);
  for (let i = 0; i < 10_000; i += 1_000) await manager.addToGroup(`c${i}`, 'sparse');
  for (const c of connections) c.resetCounters();
  await manager.sendGroup('sparse', 'm', ['x']);
  await manager.sendGroupExcept('sparse', 'm', ['y'], ['c0']);
  for (const [i, c] of connections.entries()) {
    if (i % 1_000 !== 0) assert.equal(c.idReads + c.userReads + c.received.length, 0, `c${i}`);
  }
  assert.equal(connections[0]!.received.length, 1);
  assert.equal(connections[1_000]!.received.length, 2);
});

test('a connection whose writeMessage throws does not stop the others, for any kind of send', async () => {
  const protocol = new CountingProtocol(jsonHubProtocol);
  const manager = new DefaultHubLifetimeManager();
  const broken = new ThrowingConnection('broken', 'u', protocol);
  const healthy = [1, 2, 3].map((i) => new FakeConnection(`ok${i}`, 'u', protocol));
  // the broken one comes first in every index
  for (const c of [broken, ...healthy]) {
    await manager.onConnected(c);
    await manager.addToGroup(c.connectionId, 'g');
  }
  const ids = ['broken', 'ok1', 'ok2', 'ok3'];
  await manager.sendAll('m', [1]);
  await manager.sendAllExcept('m', [2], []);
  await manager.sendConnection('broken', 'm', [3]);
  await manager.sendConnections(ids, 'm', [4]);
  await manager.sendGroup('g', 'm', [5]);
  await manager.sendGroups(['g'], 'm', [6]);
  await manager.sendGroupExcept('g', 'm', [7], []);
  await manager.sendUser('u', 'm', [8]);
  await manager.sendUsers(['u'], 'm', [9]);
  assert.equal(broken.attempts, 9);
  for (const c of healthy) {
    assert.deepEqual(
      c.messages().map((m) => (m as { arguments: unknown[] }).arguments[0]),
      [1, 2, 4, 5, 6, 7, 8, 9],
      c.connectionId,
    );
  }
});

test('each target reaches exactly its connections, once', async () => {
  const { manager, connections } = await setup(6, {
    user: (i) => (i < 3 ? 'ann' : i < 5 ? 'ben' : undefined),
  });
  await manager.addToGroup('c0', 'a');
  await manager.addToGroup('c1', 'a');
  await manager.addToGroup('c1', 'b');
  await manager.addToGroup('c1', 'b'); // twice: harmless
  await manager.addToGroup('c4', 'b');
  const check = async (send: () => Promise<void>, expected: string[]) => {
    for (const c of connections) c.received.length = 0;
    await send();
    assert.deepEqual(receivers(connections), expected, send.toString());
    for (const c of connections) assert.ok(c.received.length <= 1, `${c.connectionId} received twice`);
  };
  await check(() => manager.sendAll('m', []), ['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
  await check(() => manager.sendAllExcept('m', [], ['c1', 'c5', 'zz']), ['c0', 'c2', 'c3', 'c4']);
  await check(() => manager.sendConnection('c3', 'm', []), ['c3']);
  await check(() => manager.sendConnection('zz', 'm', []), []);
  await check(() => manager.sendConnections(['c2', 'c2', 'c5', 'zz'], 'm', []), ['c2', 'c5']);
  await check(() => manager.sendGroup('a', 'm', []), ['c0', 'c1']);
  await check(() => manager.sendGroup('A', 'm', []), []);
  await check(() => manager.sendGroups(['a', 'b', 'a', 'none'], 'm', []), ['c0', 'c1', 'c4']);
  await check(() => manager.sendGroupExcept('b', 'm', [], ['c4']), ['c1']);
  await check(() => manager.sendUser('ann', 'm', []), ['c0', 'c1', 'c2']);
  await check(() => manager.sendUsers(['ben', 'ann', 'ben'], 'm', []), ['c0', 'c1', 'c2', 'c3', 'c4']);
  await check(() => manager.sendUser('nobody', 'm', []), []);
});

test('disconnect removes a connection from every group and the user index; empty groups disappear', async () => {
  const { manager, connections } = await setup(4, { user: (i) => (i < 2 ? 'kim' : 'lee') });
  await manager.addToGroup('c0', 'x');
  await manager.addToGroup('c0', 'y');
  await manager.addToGroup('c1', 'x');
  await manager.addToGroup('c2', 'y');
  assert.deepEqual(manager.groupsOf('c0').sort(), ['x', 'y']);

  await manager.onDisconnected(connections[0]!);
  assert.equal(manager.connectionCount, 3);
  assert.deepEqual(manager.groupMembers('x'), ['c1']);
  assert.deepEqual(manager.groupMembers('y'), ['c2']);
  assert.deepEqual(manager.groupsOf('c0'), []);
  assert.deepEqual(manager.userConnections('kim'), ['c1']);

  await manager.onDisconnected(connections[1]!);
  assert.deepEqual(manager.groupMembers('x'), []);
  assert.deepEqual(manager.userConnections('kim'), []);
  for (const c of connections) c.received.length = 0;
  await manager.sendGroup('x', 'm', []);
  await manager.sendUser('kim', 'm', []);
  await manager.sendAll('m', []);
  assert.deepEqual(receivers(connections), ['c2', 'c3']);

  // group changes for a gone connection do nothing; a second disconnect is harmless
  await manager.addToGroup('c0', 'x');
  await manager.removeFromGroup('c0', 'y');
  await manager.onDisconnected(connections[0]!);
  assert.deepEqual(manager.groupMembers('x'), []);
  assert.equal(manager.connectionCount, 2);
});

test('a stale disconnect for a reused connection id does not remove the live connection', async () => {
  const protocol = new CountingProtocol(jsonHubProtocol);
  const manager = new DefaultHubLifetimeManager();
  const old = new FakeConnection('same', 'pat', protocol);
  const current = new FakeConnection('same', 'pat', protocol);
  await manager.onConnected(old);
  await manager.onConnected(current);
  await manager.addToGroup('same', 'g');
  await manager.onDisconnected(old);
  assert.equal(manager.connectionCount, 1);
  assert.deepEqual(manager.groupMembers('g'), ['same']);
  await manager.sendGroup('g', 'm', []);
  assert.equal(current.received.length, 1);
});

test('a send with no recipients serializes nothing', async () => {
  const protocol = new CountingProtocol(jsonHubProtocol);
  const { manager } = await setup(3, { protocol });
  await manager.sendGroup('empty', 'm', []);
  await manager.sendUser('nobody', 'm', []);
  await manager.sendConnection('zz', 'm', []);
  assert.equal(protocol.writes, 0);
});

test('a message that cannot be serialized: the send rejects, serialization is tried once, nobody gets bytes', async () => {
  const protocol = new CountingProtocol(jsonHubProtocol);
  const { manager, connections } = await setup(100, { protocol, user: () => 'u' });
  for (const c of connections) await manager.addToGroup(c.connectionId, 'g');
  const sends: (() => Promise<void>)[] = [
    () => manager.sendAll('m', [10n]),
    () => manager.sendAllExcept('m', [10n], []),
    () => manager.sendConnection('c0', 'm', [10n]),
    () => manager.sendConnections(['c0', 'c1'], 'm', [10n]),
    () => manager.sendGroup('g', 'm', [10n]),
    () => manager.sendGroups(['g'], 'm', [10n]),
    () => manager.sendGroupExcept('g', 'm', [10n], []),
    () => manager.sendUser('u', 'm', [10n]),
    () => manager.sendUsers(['u'], 'm', [10n]),
  ];
  for (const send of sends) {
    protocol.writes = 0;
    await assert.rejects(send(), /BigInt/, send.toString());
    assert.equal(protocol.writes, 1, send.toString());
  }
  for (const c of connections) assert.deepEqual(c.received, [], c.connectionId);
  // the manager still works
  await manager.sendAll('m', ['fine']);
  assert.equal(connections[99]!.received.length, 1);
});

test('a message one protocol cannot serialize still reaches the connections of the other', async () => {
  const json = new CountingProtocol(jsonHubProtocol);
  // a protocol that refuses everything, standing in for one that cannot carry a value
  const refusing = new CountingProtocol({
    ...jsonHubProtocol,
    name: 'refusing',
    version: 1,
    transferFormat: 'Text',
    parseMessages: (input) => jsonHubProtocol.parseMessages(input),
    writeMessage: () => {
      throw new Error('cannot carry this');
    },
  });
  const manager = new DefaultHubLifetimeManager();
  const connections = [json, refusing, json, refusing].map(
    (p, i) => new FakeConnection(`c${i}`, undefined, p),
  );
  for (const c of connections) await manager.onConnected(c);
  await assert.rejects(manager.sendAll('m', ['x']), /cannot carry this/);
  assert.deepEqual(
    connections.map((c) => c.received.length),
    [1, 0, 1, 0],
  );
  assert.equal(refusing.writes, 1);
});
