// The onConnecting hook: it runs before the connection is registered and answered, may set the
// user id the connection goes on with (UserIdentifier, user sends), and may refuse it.
import assert from 'node:assert/strict';
import test from 'node:test';
import { connectClient, startTestServer, waitFor } from '@switchboard/testkit';
import type { Authenticator } from '../src/auth/authentication.ts';
import { Hub } from '../src/hubs/hub.ts';
import { HubException } from '../src/index.ts';

class WhoHub extends Hub {
  whoAmI(): string | undefined {
    return this.context.userIdentifier;
  }
}

const byQuery: Authenticator = (request) => {
  const user = request.query.get('user');
  return user ? { userId: user, claims: {} } : null;
};

test('onConnecting sets the user id: UserIdentifier and user sends follow it; a throw refuses', async () => {
  const seen: (string | undefined)[] = [];
  const server = await startTestServer(
    (hubs) =>
      hubs.mapHub('/hub', WhoHub, {
        onConnecting: async (context) => {
          seen.push(context.userIdentifier);
          if (context.userIdentifier === 'mallory') throw new HubException('not you');
          return context.userIdentifier === 'alias' ? { userIdentifier: 'ada' } : undefined;
        },
      }),
    { authenticate: byQuery },
  );
  try {
    const client = await connectClient(`${server.baseUrl}/hub?user=alias`, { noStart: true });
    const received: unknown[] = [];
    client.on('m', (value: unknown) => received.push(value));
    await client.start();
    assert.equal(await client.invoke('whoAmI'), 'ada');
    const hub = server.hubs.hubContext('/hub');
    await hub.clients.user('alias').send('m', 'to alias');
    await hub.clients.user('ada').send('m', 'to ada');
    await waitFor(() => received.length === 1, 3_000, 'the send to the new user');
    const plain = await connectClient(`${server.baseUrl}/hub?user=bob`);
    assert.equal(await plain.invoke('whoAmI'), 'bob', 'no outcome: the authenticated user');
    const refused = await connectClient(`${server.baseUrl}/hub?user=mallory`, { noStart: true });
    const closed = new Promise<string>((resolve) => refused.onclose((e) => resolve(String(e?.message))));
    const error = await refused.start().then(
      () => closed,
      (e: unknown) => String((e as Error).message),
    );
    assert.match(error, /not you/);
    assert.deepEqual(received, ['to ada']);
    assert.deepEqual(seen, ['alias', 'bob', 'mallory']);
    await Promise.all([client.stop(), plain.stop()]);
  } finally {
    await server.close();
  }
});
