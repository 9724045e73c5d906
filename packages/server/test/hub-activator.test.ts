// Hubs that receive their dependencies (issue 17): mapHub's `activator` creates every hub
// instance, as ASP.NET's IHubActivator does, so a hub can take what it needs in its constructor.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hub, HubServer } from '@switchboard/server';
import { connectClient, startTestServer } from '@switchboard/testkit';

/** A dependency the hub gets from its creator. */
class Greetings {
  served = 0;
  constructor(readonly word: string) {}
  greet(name: string) {
    this.served++;
    return `${this.word}, ${name}`;
  }
}

class GreeterHub extends Hub {
  constructor(private readonly greetings: Greetings) {
    super();
  }
  greet(name: string) {
    return this.greetings.greet(name);
  }
  who() {
    return this.context.connectionId.length > 0;
  }
}

test('an activator builds every hub instance with its dependencies; the server sets the context', async () => {
  const greetings = new Greetings('Hello');
  let created = 0;
  const server = await startTestServer((hubs) =>
    hubs.mapHub('/greeter', GreeterHub, {
      activator: () => {
        created++;
        return new GreeterHub(greetings);
      },
    }),
  );
  try {
    const client = await connectClient(`${server.baseUrl}/greeter`);
    assert.equal(await client.invoke('greet', 'Ann'), 'Hello, Ann');
    assert.equal(await client.invoke('greet', 'Bo'), 'Hello, Bo');
    assert.equal(await client.invoke('who'), true);
    assert.equal(greetings.served, 2);
    // onConnected, then one instance per invocation.
    assert.equal(created, 4);
    await client.stop();
  } finally {
    await server.close();
  }
});

test('an activator that returns anything but an instance of the mapped class fails the connection', async () => {
  const server = await startTestServer((hubs) =>
    hubs.mapHub('/greeter', GreeterHub, { activator: () => ({}) as GreeterHub }),
  );
  try {
    const client = await connectClient(`${server.baseUrl}/greeter`, { noStart: true });
    await assert.rejects(client.start());
  } finally {
    await server.close();
  }
});

test('a hub whose constructor takes arguments needs an activator (a type error without one)', async () => {
  const hubs = new HubServer();
  // @ts-expect-error GreeterHub takes its dependencies: mapHub needs an activator for it.
  hubs.mapHub('/no-activator', GreeterHub);
  assert.throws(
    () => hubs.mapHub('/bad', GreeterHub, { activator: 'GreeterHub' as never }),
    /The activator of '\/bad' is not a function/,
  );
  await hubs.close();
});
