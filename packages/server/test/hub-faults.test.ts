// Hub code that misbehaves: validators, policies and constructors that throw, method options
// declared in another case, values that cannot be serialized. Every blocking call must still get
// exactly one Completion, and the connection must stay usable.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import {
  Hub,
  HubException,
  HubServer,
  jwtBearerAuthenticator,
  type StandardSchemaV1,
  SwitchboardError,
  signJwt,
} from '@switchboard/server';
import { connectClient, startTestServer, type TestServer, waitFor, within } from '@switchboard/testkit';

const secret = 'faults-secret';
let constructorThrows = false;

const rejectingSchema: StandardSchemaV1 = {
  '~standard': {
    version: 1,
    vendor: 'hand-written',
    validate: () => Promise.reject(new TypeError('schema crashed')),
  },
};

class FaultyHub extends Hub {
  static methods = {
    // declared in another case than the methods: hub method names are case-insensitive
    AdminOnly: { authorize: { roles: ['admin'] } },
    POSITIVE: {
      parameters: [
        (v: unknown) => (typeof v === 'number' && v > 0 ? undefined : 'expected a positive number'),
      ],
    },
    deref: { parameters: [(v: unknown) => ((v as { x: number }).x > 0 ? undefined : 'x must be positive')] },
    refuseInValidator: {
      parameters: [
        () => {
          throw new HubException('Validator says no.');
        },
      ],
    },
    crashingSchema: { parameters: [rejectingSchema] },
    brokenPolicy: {
      authorize: {
        policy: () => {
          throw new Error('policy crashed');
        },
      },
    },
  };
  constructor() {
    super();
    if (constructorThrows) throw new Error('constructor crashed');
  }
  adminOnly() {
    return 'admin secret';
  }
  positive(n: number) {
    return n;
  }
  deref(v: { x: number }) {
    return v.x;
  }
  refuseInValidator(_v: unknown) {
    return 'ran';
  }
  crashingSchema(_v: unknown) {
    return 'ran';
  }
  brokenPolicy() {
    return 'ran';
  }
  ok() {
    return 'ok';
  }
  async broadcastBigint() {
    await this.clients.all.send('m', 10n);
  }
  broadcast(x: unknown) {
    return this.clients.all.send('m', x);
  }
  bigintResult() {
    return 10n;
  }
}

let server: TestServer;
let client: HubConnection;

before(async () => {
  server = await startTestServer((h) => h.mapHub('/faulty', FaultyHub), {
    authenticate: jwtBearerAuthenticator({ secret }),
  });
  client = await connectClient(`${server.baseUrl}/faulty`, {
    accessTokenFactory: () => signJwt({ sub: 'user', role: 'user' }, secret, { lifetimeSeconds: 60 }),
  });
});
after(async () => {
  await client.stop();
  await server.close();
});

test('method options declared in another case still apply (authorization and schemas)', async () => {
  await assert.rejects(within(client.invoke('adminOnly')), {
    message: "Failed to invoke 'adminOnly' because user is unauthorized",
  });
  await assert.rejects(within(client.invoke('positive', -1)), {
    message:
      "Failed to invoke 'positive' due to an error on the server. HubException: Invalid argument 1: expected a positive number",
  });
  assert.equal(await within(client.invoke('positive', 3)), 3);
});

test('a validator that throws gets a Completion error, and the connection stays usable', async () => {
  await assert.rejects(within(client.invoke('deref', null)), {
    message: "Failed to invoke 'deref' due to an error on the server.",
  });
  await assert.rejects(within(client.invoke('refuseInValidator', 1)), {
    message:
      "Failed to invoke 'refuseInValidator' due to an error on the server. HubException: Validator says no.",
  });
  await assert.rejects(within(client.invoke('crashingSchema', 1)), {
    message: "Failed to invoke 'crashingSchema' due to an error on the server.",
  });
  assert.equal(await within(client.invoke('deref', { x: 2 })), 2);
});

test('an authorization policy that throws refuses the call with an error Completion', async () => {
  await assert.rejects(within(client.invoke('brokenPolicy')), {
    message: "An unexpected error occurred invoking 'brokenPolicy' on the server.",
  });
  assert.equal(await within(client.invoke('ok')), 'ok');
});

test('a hub constructor that throws gets an error Completion', async () => {
  constructorThrows = true;
  try {
    await assert.rejects(within(client.invoke('ok')), {
      message: "An unexpected error occurred invoking 'ok' on the server.",
    });
  } finally {
    constructorThrows = false;
  }
  assert.equal(await within(client.invoke('ok')), 'ok');
});

test('mapHub refuses options declared twice for one method in different cases', () => {
  class TwiceDeclared extends Hub {
    static methods = { go: { authorize: true as const }, GO: { authorize: true as const } };
    go() {}
  }
  assert.throws(
    () => new HubServer().mapHub('/twice', TwiceDeclared),
    (e: unknown) =>
      e instanceof SwitchboardError &&
      e.code === 'SB_ERR_HUB_CONFIGURATION' &&
      /case-insensitive/.test(e.message),
  );
});

test('a broadcast that cannot be serialized fails the sending method; the connections stay usable', async () => {
  const other = await connectClient(`${server.baseUrl}/faulty`);
  try {
    const got: unknown[] = [];
    other.on('m', (x: unknown) => got.push(x));
    client.on('m', () => undefined);
    await assert.rejects(within(client.invoke('broadcastBigint')), {
      message: "An unexpected error occurred invoking 'broadcastBigint' on the server.",
    });
    await within(client.invoke('broadcast', 'after'));
    await waitFor(() => got.length > 0);
    assert.deepEqual(got, ['after']);
  } finally {
    await other.stop();
  }
});

// A result the protocol cannot serialize once made writeOwn throw inside runInvocation: no
// Completion, and the connection's only invocation slot stayed taken (fixed in 768ddb5). The call
// now fails with the method's error Completion and the connection goes on.
test('a result that cannot be serialized still settles the call', async () => {
  const victim = await connectClient(`${server.baseUrl}/faulty`);
  try {
    await assert.rejects(within(victim.invoke('bigintResult'), 500), {
      message: "An unexpected error occurred invoking 'bigintResult' on the server.",
    });
    assert.equal(victim.state, 'Connected');
    assert.equal(await within(victim.invoke('ok')), 'ok');
  } finally {
    await victim.stop();
  }
});
