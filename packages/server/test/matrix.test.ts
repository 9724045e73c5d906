// The core scenarios on every transport and protocol the official clients support
// (testkit's TRANSPORT_MATRIX): results and error texts, send, broadcasts to all, a group and a user
// across connections on different cells (a JSON and a MessagePack client in one group receive the
// same broadcast), onConnected sending, stop, server-side abort, and what the hub sees of the
// transport and of the request that started it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HttpTransportType, type HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { Hub, HubException } from '@switchboard/server';
import {
  connectClient,
  deferred,
  eachTransportAndProtocol,
  startTestServer,
  type TestServer,
  TRANSPORT_MATRIX,
  type TransportCell,
  waitFor,
} from '@switchboard/testkit';

const sent: string[] = [];
const disconnected = new Map<string, Error | undefined>();

class MatrixHub extends Hub {
  override async onConnected() {
    await this.clients.caller.send('welcome', this.context.connectionId);
  }
  override onDisconnected(error?: Error) {
    disconnected.set(this.context.connectionId, error);
  }
  echo(value: unknown) {
    return value;
  }
  add(a: number, b: number) {
    return a + b;
  }
  fail() {
    throw new Error('the details stay on the server');
  }
  failVisibly() {
    throw new HubException('meant for the caller');
  }
  record(text: string) {
    sent.push(text);
  }
  join(group: string) {
    return this.groups.add(this.context.connectionId, group);
  }
  toAll(text: string) {
    return this.clients.all.send('all', text);
  }
  toGroup(group: string, text: string) {
    return this.clients.group(group).send('group', text);
  }
  toUser(user: string, text: string) {
    return this.clients.user(user).send('user', text);
  }
  transport() {
    return this.context.transport;
  }
  header(name: string) {
    return this.context.request.headers[name.toLowerCase()] ?? null;
  }
  whoAmI() {
    return this.context.userIdentifier ?? null;
  }
  leave() {
    this.context.abort();
  }
}

let server: TestServer;
let url: string;

before(async () => {
  server = await startTestServer(
    (hubs) => {
      hubs.mapHub('/matrix', MatrixHub);
      hubs.mapHub('/no-websockets', MatrixHub, { transports: ['ServerSentEvents', 'LongPolling'] });
      hubs.mapHub('/polling-only', MatrixHub, { transports: ['LongPolling'] });
    },
    {
      // The user is whatever the query says: enough to address clients by user.
      authenticate: (request) => {
        const user = request.query.get('user');
        return user ? { userId: user, claims: {} } : null;
      },
    },
  );
  url = `${server.baseUrl}/matrix`;
});
after(() => server.close());

/** A started client on `cell`, with its welcome message and its close recorded. */
async function open(cell: TransportCell, user: string, headers: Record<string, string> = {}) {
  const client = await connectClient(`${url}?user=${user}`, cell.clientOptions({ noStart: true, headers }));
  const welcome = deferred<string>();
  const closed = deferred<Error | undefined>();
  client.on('welcome', (id: string) => welcome.resolve(id));
  client.onclose((error) => closed.resolve(error));
  await client.start();
  return { client, welcome: welcome.promise, closed: closed.promise };
}

/** Resolves with the first argument of the next `method` call on `client`. */
function next(client: HubConnection, method: string): Promise<unknown> {
  const got = deferred<unknown>();
  const handler = (value: unknown) => {
    client.off(method, handler);
    got.resolve(value);
  };
  client.on(method, handler);
  return withTimeout(got.promise, `${method} on the client`);
}

function withTimeout<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A cell with the other protocol, for the cross-cell broadcasts. */
function peerOf(cell: TransportCell): TransportCell {
  return TRANSPORT_MATRIX.find((c) => c.protocol !== cell.protocol && c.transport !== cell.transport)!;
}

eachTransportAndProtocol((cell, index) => {
  const user = `user-${index}`;

  test('invoke returns results; errors carry the reference texts', { timeout: 20_000 }, async () => {
    const { client, welcome } = await open(cell, user);
    try {
      assert.match(await withTimeout(welcome, 'welcome'), /^[A-Za-z0-9_-]{22}$/, 'onConnected sent first');
      assert.equal(await client.invoke('add', 2, 3), 5);
      assert.deepEqual(await client.invoke('echo', { text: 'héllo ✓', list: [1, null, 'x'] }), {
        text: 'héllo ✓',
        list: [1, null, 'x'],
      });
      await assert.rejects(client.invoke('fail'), {
        message: "An unexpected error occurred invoking 'fail' on the server.",
      });
      await assert.rejects(client.invoke('failVisibly'), {
        message:
          "An unexpected error occurred invoking 'failVisibly' on the server. HubException: meant for the caller",
      });
      await assert.rejects(client.invoke('nope'), {
        message:
          "Failed to invoke 'nope' due to an error on the server. HubException: Method does not exist.",
      });
      // Still usable after errors.
      assert.equal(await client.invoke('echo', 'after'), 'after');
    } finally {
      await client.stop();
    }
  });

  test('send reaches the hub; a large payload goes through', { timeout: 20_000 }, async () => {
    const { client } = await open(cell, user);
    try {
      const marker = `sent over ${cell.name}`;
      await client.send('record', marker);
      await waitFor(() => sent.includes(marker), 5_000, 'the send');
      const big = 'x'.repeat(20_000);
      assert.equal(await client.invoke('echo', big), big);
    } finally {
      await client.stop();
    }
  });

  test('broadcasts to all, a group and a user reach clients on other cells and protocols', {
    timeout: 20_000,
  }, async () => {
    const peerCell = peerOf(cell);
    const peerUser = `peer-of-${index}`;
    const a = await open(cell, user);
    const b = await open(peerCell, peerUser);
    try {
      const group = `group-${index}`;
      await a.client.invoke('join', group);
      await b.client.invoke('join', group);
      const inGroup = [next(a.client, 'group'), next(b.client, 'group')];
      await a.client.invoke('toGroup', group, 'to the group');
      assert.deepEqual(await Promise.all(inGroup), ['to the group', 'to the group']);
      const toAll = [next(a.client, 'all'), next(b.client, 'all')];
      await b.client.invoke('toAll', 'to everyone');
      assert.deepEqual(await Promise.all(toAll), ['to everyone', 'to everyone']);
      const toUser = next(b.client, 'user');
      await a.client.invoke('toUser', peerUser, 'to one user');
      assert.equal(await toUser, 'to one user');
      assert.equal(await a.client.invoke('whoAmI'), user);
    } finally {
      await Promise.all([a.client.stop(), b.client.stop()]);
    }
  });

  test('the hub sees the transport and the headers of the request that started it', {
    timeout: 20_000,
  }, async () => {
    const { client } = await open(cell, user, { 'X-Matrix': cell.name });
    try {
      assert.equal(await client.invoke('transport'), cell.transport);
      assert.equal(await client.invoke('header', 'X-Matrix'), cell.name);
      assert.match(String(await client.invoke('header', 'User-Agent')), /^Microsoft SignalR\/10\.0/);
    } finally {
      await client.stop();
    }
  });

  test('client stop closes cleanly: onclose gets undefined, the hub onDisconnected no error', {
    timeout: 20_000,
  }, async () => {
    const { client, welcome, closed } = await open(cell, user);
    const id = await withTimeout(welcome, 'welcome');
    await client.stop();
    assert.equal(await withTimeout(closed, 'onclose'), undefined);
    await waitFor(() => disconnected.has(id), 5_000, 'onDisconnected');
    assert.equal(disconnected.get(id), undefined);
  });

  test('a server-side abort closes the client without error and frees the connection', {
    timeout: 20_000,
  }, async () => {
    const { client, welcome, closed } = await open(cell, user);
    const id = await withTimeout(welcome, 'welcome');
    await client.send('leave');
    assert.equal(await withTimeout(closed, 'onclose'), undefined);
    await waitFor(() => disconnected.has(id), 5_000, 'onDisconnected');
  });
});

test('fallback: the client and the hub agree on the first transport both allow', {
  timeout: 30_000,
}, async () => {
  const cases: [path: string, options: Parameters<typeof connectClient>[1], expected: string][] = [
    [
      '/matrix',
      { transport: HttpTransportType.ServerSentEvents | HttpTransportType.LongPolling },
      'ServerSentEvents',
    ],
    ['/matrix', { transport: HttpTransportType.LongPolling | HttpTransportType.WebSockets }, 'WebSockets'],
    ['/no-websockets', {}, 'ServerSentEvents'],
    ['/no-websockets', { protocol: new MessagePackHubProtocol() }, 'LongPolling'],
    [
      '/matrix',
      {
        transport: HttpTransportType.ServerSentEvents | HttpTransportType.LongPolling,
        protocol: new MessagePackHubProtocol(),
      },
      'LongPolling',
    ],
    ['/polling-only', {}, 'LongPolling'],
  ];
  for (const [path, options, expected] of cases) {
    const client = await connectClient(`${server.baseUrl}${path}`, options);
    try {
      assert.equal(await client.invoke('transport'), expected, `${path} ${JSON.stringify(options)}`);
    } finally {
      await client.stop();
    }
  }
});

test('after the matrix, no connection is left behind', { timeout: 10_000 }, async () => {
  await waitFor(() => server.hubs.connectionCount === 0, 5_000, 'every connection to go');
});

test('fallback: a negotiate offering no transport the client allows fails start', {
  timeout: 10_000,
}, async () => {
  await assert.rejects(
    connectClient(`${server.baseUrl}/polling-only`, { transport: HttpTransportType.WebSockets }),
    /Unable to connect to the server with any of the available transports/,
  );
});
