// Who receives what: every ClientProxy target of a hub (all, caller, others, client, clients, group,
// groups, groupExcept, othersInGroup, allExcept) with several official clients, each log closed by
// a sentinel so that "did not receive" and "received once" are proven, not waited out. Also typed
// client calls through an interface, checked by the compiler.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { Hub } from '@switchboard/server';
import { connectClient, startTestServer, type TestServer } from '@switchboard/testkit';
import { connectMany, END, type Logs, record, stopAll } from './hub-test-helpers.js';

class RouteHub extends Hub {
  join(group: string) {
    return this.groups.add(this.context.connectionId, group);
  }
  leave(group: string) {
    return this.groups.remove(this.context.connectionId, group);
  }
  toAll(x: unknown) {
    return this.clients.all.send('m', x);
  }
  toCaller(x: unknown) {
    return this.clients.caller.send('m', x);
  }
  toOthers(x: unknown) {
    return this.clients.others.send('m', x);
  }
  toClient(id: string, x: unknown) {
    return this.clients.client(id).send('m', x);
  }
  toClients(ids: string[], x: unknown) {
    return this.clients.clients(ids).send('m', x);
  }
  toGroup(group: string, x: unknown) {
    return this.clients.group(group).send('m', x);
  }
  toGroups(groups: string[], x: unknown) {
    return this.clients.groups(groups).send('m', x);
  }
  toGroupExcept(group: string, excluded: string[], x: unknown) {
    return this.clients.groupExcept(group, excluded).send('m', x);
  }
  toOthersInGroup(group: string, x: unknown) {
    return this.clients.othersInGroup(group).send('m', x);
  }
  toAllExcept(excluded: string[], x: unknown) {
    return this.clients.allExcept(excluded).send('m', x);
  }
  many(x: unknown) {
    // several arguments arrive as several handler arguments
    return this.clients.caller.send('many', x, 2, { three: 3 }, null);
  }
}

interface ChatClient {
  receive(user: string, text: string): void;
  count(n: number): void;
}

class TypedHub extends Hub<ChatClient> {
  async say(text: string) {
    await this.clients.all.send('receive', 'server', text);
    await this.clients.caller.send('count', text.length);
  }
}

/** Never called: tsc -p tsconfig.test.json proves that typed proxies refuse wrong calls. */
export function typedProxyChecks(hub: TypedHub, server: TestServer): void {
  // @ts-expect-error 'nope' is not a method of ChatClient
  void hub.clients.all.send('nope', 'x');
  // @ts-expect-error count takes a number
  void hub.clients.others.send('count', 'not a number');
  // @ts-expect-error receive takes two arguments
  void hub.clients.group('g').send('receive', 'only one');
  const context = server.hubs.hubContext<ChatClient>('/typed');
  void context.clients.user('u').send('receive', 'a', 'b');
  // @ts-expect-error the hub context is typed as well
  void context.clients.all.send('count', 1, 2);
}

let server: TestServer;
let url: string;
let clients: HubConnection[];
let a: HubConnection;
let b: HubConnection;
let c: HubConnection;
let d: HubConnection;
let logs: Logs;

before(async () => {
  server = await startTestServer((h) => h.mapHub('/route', RouteHub).mapHub('/typed', TypedHub));
  url = `${server.baseUrl}/route`;
  clients = await connectMany(url, 4);
  [a, b, c, d] = clients as [HubConnection, HubConnection, HubConnection, HubConnection];
  logs = record(clients);
});
after(async () => {
  await stopAll(clients);
  await server.close();
});

/** Sends the sentinel to everyone, waits for it, returns the logs and clears them. */
async function delivered(): Promise<unknown[][]> {
  await server.hubs.hubContext('/route').clients.all.send('m', END);
  await logs.settle();
  const copy = logs.logs.map((log) => [...log]);
  logs.clear();
  return copy;
}

const id = (x: HubConnection) => x.connectionId!;

test('all reaches every connection once', async () => {
  await a.invoke('toAll', 'x');
  assert.deepEqual(await delivered(), [
    ['x', END],
    ['x', END],
    ['x', END],
    ['x', END],
  ]);
});

test('caller reaches only the caller; others everyone but the caller', async () => {
  await b.invoke('toCaller', 'me');
  assert.deepEqual(await delivered(), [[END], ['me', END], [END], [END]]);
  await b.invoke('toOthers', 'you');
  assert.deepEqual(await delivered(), [['you', END], [END], ['you', END], ['you', END]]);
});

test('client(id) reaches that connection; clients(ids) each listed one once', async () => {
  await a.invoke('toClient', id(c), 'one');
  assert.deepEqual(await delivered(), [[END], [END], ['one', END], [END]]);
  await a.invoke('toClients', [id(b), id(d), id(d), 'no-such-id'], 'some');
  assert.deepEqual(await delivered(), [[END], ['some', END], [END], ['some', END]]);
  await a.invoke('toClient', 'no-such-id', 'lost');
  assert.deepEqual(await delivered(), [[END], [END], [END], [END]]);
});

test('group reaches its members only; a non-member may send to it; names are case-sensitive', async () => {
  await b.invoke('join', 'g');
  await c.invoke('join', 'g');
  await d.invoke('join', 'G');
  await a.invoke('toGroup', 'g', 'hello g');
  assert.deepEqual(await delivered(), [[END], ['hello g', END], ['hello g', END], [END]]);
  await a.invoke('toGroup', 'empty', 'nobody');
  assert.deepEqual(await delivered(), [[END], [END], [END], [END]]);
  for (const [x, g] of [
    [b, 'g'],
    [c, 'g'],
    [d, 'G'],
  ] as const)
    await x.invoke('leave', g);
});

test('groups reaches members of any listed group, once even when a connection is in two', async () => {
  await b.invoke('join', 'g1');
  await c.invoke('join', 'g1');
  await c.invoke('join', 'g2');
  await d.invoke('join', 'g2');
  await a.invoke('toGroups', ['g1', 'g2', 'g1', 'missing'], 'gs');
  assert.deepEqual(await delivered(), [[END], ['gs', END], ['gs', END], ['gs', END]]);
  // c is in both: a group send to each still reaches it once per send
  await a.invoke('toGroup', 'g2', 'only g2');
  assert.deepEqual(await delivered(), [[END], [END], ['only g2', END], ['only g2', END]]);
  for (const [x, g] of [
    [b, 'g1'],
    [c, 'g1'],
    [c, 'g2'],
    [d, 'g2'],
  ] as const)
    await x.invoke('leave', g);
});

test('groupExcept skips the listed ids; othersInGroup skips the caller', async () => {
  for (const x of [a, b, c]) await x.invoke('join', 'room');
  await d.invoke('toGroupExcept', 'room', [id(b)], 'not b');
  assert.deepEqual(await delivered(), [['not b', END], [END], ['not b', END], [END]]);
  await a.invoke('toOthersInGroup', 'room', 'not me');
  assert.deepEqual(await delivered(), [[END], ['not me', END], ['not me', END], [END]]);
  // d is not in the group: othersInGroup from it reaches the whole group
  await d.invoke('toOthersInGroup', 'room', 'from outside');
  assert.deepEqual(await delivered(), [
    ['from outside', END],
    ['from outside', END],
    ['from outside', END],
    [END],
  ]);
  for (const x of [a, b, c]) await x.invoke('leave', 'room');
});

test('allExcept skips exactly the listed ids', async () => {
  await a.invoke('toAllExcept', [id(a), id(c)], 'x');
  assert.deepEqual(await delivered(), [[END], ['x', END], [END], ['x', END]]);
  await a.invoke('toAllExcept', [], 'everyone');
  assert.deepEqual(await delivered(), [
    ['everyone', END],
    ['everyone', END],
    ['everyone', END],
    ['everyone', END],
  ]);
});

test('add and remove: joining twice gives one copy, leaving stops delivery, leaving twice is harmless', async () => {
  await b.invoke('join', 'club');
  await b.invoke('join', 'club');
  await c.invoke('join', 'club');
  await a.invoke('toGroup', 'club', 1);
  assert.deepEqual(await delivered(), [[END], [1, END], [1, END], [END]]);
  await b.invoke('leave', 'club');
  await b.invoke('leave', 'club');
  await d.invoke('leave', 'club');
  await a.invoke('toGroup', 'club', 2);
  assert.deepEqual(await delivered(), [[END], [END], [2, END], [END]]);
  await c.invoke('leave', 'club');
  await a.invoke('toGroup', 'club', 3);
  assert.deepEqual(await delivered(), [[END], [END], [END], [END]]);
});

test('several arguments arrive as several handler arguments', async () => {
  const got = new Promise<unknown[]>((resolve) => a.on('many', (...args: unknown[]) => resolve(args)));
  await a.invoke('many', 'one');
  assert.deepEqual(await got, ['one', 2, { three: 3 }, null]);
});

test('30 connections in 3 groups: each group send reaches exactly its members, once', async () => {
  const many = await connectMany(url, 30);
  try {
    const manyLogs = record(many);
    const member = many.map(() => new Set<number>());
    const join = (i: number, team: number) => {
      member[i]!.add(team);
      return many[i]!.invoke('join', `team-${team}`);
    };
    await Promise.all(many.map((_, i) => join(i, i % 3)));
    // every fifth connection is also in team-0 (some of them already were)
    await Promise.all(many.map((_, i) => (i % 5 === 0 ? join(i, 0) : undefined)));
    const context = server.hubs.hubContext('/route');
    const expected = (i: number, extra: unknown[]) => [
      ...[0, 1, 2].filter((t) => member[i]!.has(t)),
      ...extra,
      END,
    ];
    for (const team of [0, 1, 2]) await context.clients.group(`team-${team}`).send('m', team);
    await context.clients.groups(['team-1', 'team-2']).send('m', 'twelve');
    await context.clients.all.send('m', END);
    await manyLogs.settle();
    manyLogs.logs.forEach((log, i) => {
      const inOneOrTwo = member[i]!.has(1) || member[i]!.has(2);
      assert.deepEqual(log, expected(i, inOneOrTwo ? ['twelve'] : []), `connection ${i}`);
    });
    // the first half leave their own team: the next sends follow the new membership
    manyLogs.clear();
    await Promise.all(
      many.map((x, i) => {
        if (i >= 15) return undefined;
        member[i]!.delete(i % 3);
        return x.invoke('leave', `team-${i % 3}`);
      }),
    );
    for (const team of [0, 1, 2]) await context.clients.group(`team-${team}`).send('m', team);
    await context.clients.all.send('m', END);
    await manyLogs.settle();
    manyLogs.logs.forEach((log, i) => {
      assert.deepEqual(log, expected(i, []), `connection ${i}`);
    });
    assert.deepEqual(
      manyLogs.logs.map((log) => log.length > 1),
      many.map((_, i) => i >= 15 || i === 5 || i === 10),
    );
  } finally {
    await stopAll(many);
  }
});

test('a typed hub sends through its client interface', async () => {
  const t = await connectClient(`${server.baseUrl}/typed`);
  try {
    const received = new Promise<unknown[]>((resolve) =>
      t.on('receive', (...args: unknown[]) => resolve(args)),
    );
    const counted = new Promise<unknown>((resolve) => t.on('count', resolve));
    await t.invoke('say', 'hello');
    assert.deepEqual(await received, ['server', 'hello']);
    assert.equal(await counted, 5);
  } finally {
    await t.stop();
  }
});
