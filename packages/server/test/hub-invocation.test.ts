// Hub method invocation end to end with the official client over WebSockets: results, send versus
// invoke, name lookup, error texts (docs/protocol.md#invocations, docs/protocol.md#error-texts), argument
// schemas and
// what mapHub refuses.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  type ArgumentSchema,
  Hub,
  HubException,
  HubServer,
  type StandardSchemaV1,
  SwitchboardError,
} from '@switchboard/server';
import { connectClient, deferred, startTestServer, type TestServer } from '@switchboard/testkit';
import { rawConnect } from './hub-test-helpers.js';

class InvalidOperationException extends Error {}

let sideEffects = 0;
const sendRan = deferred<string>();

class CallsHub extends Hub {
  Echo(value: unknown) {
    return value;
  }
  add(a: number, b: number) {
    return a + b;
  }
  object() {
    return { name: 'switchboard', tags: ['a', 'b'], nested: { ok: true } };
  }
  nullResult() {
    return null;
  }
  nothing() {
    sideEffects++;
  }
  async slowDouble(n: number) {
    await new Promise((resolve) => setImmediate(resolve));
    return n * 2;
  }
  async asyncThrows() {
    await Promise.resolve();
    throw new HubException('async refusal');
  }
  refuse() {
    throw new HubException('Room not found.');
  }
  crash() {
    throw new InvalidOperationException('An error occurred.');
  }
  crashSend(marker: string) {
    sendRan.resolve(marker);
    throw new Error('thrown from a non-blocking call');
  }
  _secret() {
    return 'should not be callable';
  }
  static methods = {
    nonEmpty: {
      parameters: [
        (v: unknown) => (typeof v === 'string' && v.length > 0 ? undefined : 'expected a non-empty string'),
      ],
    },
    parse: { parameters: [numberFromString()] },
  };
  nonEmpty(text: string) {
    return text.toUpperCase();
  }
  parse(n: unknown) {
    return { type: typeof n, value: n };
  }
}

/** A hand-written Standard Schema: a string of digits, turned into a number. */
function numberFromString(): StandardSchemaV1 {
  return {
    '~standard': {
      version: 1,
      vendor: 'hand-written',
      validate: (value) =>
        typeof value === 'string' && /^\d+$/.test(value)
          ? { value: Number(value) }
          : { issues: [{ message: 'expected digits', path: [{ key: 'n' }] }] },
    },
  };
}

let server: TestServer;
let hub: string;
let detailed: string;

before(async () => {
  server = await startTestServer((h) =>
    h.mapHub('/calls', CallsHub).mapHub('/detailed', CallsHub, { enableDetailedErrors: true }),
  );
  hub = `${server.baseUrl}/calls`;
  detailed = `${server.baseUrl}/detailed`;
});
after(() => server.close());

test('invoke resolves with the result: string, number, object, null; a void method resolves undefined', async () => {
  const c = await connectClient(hub);
  try {
    assert.equal(await c.invoke('Echo', 'hi'), 'hi');
    assert.equal(await c.invoke('add', 2, 3), 5);
    assert.deepEqual(await c.invoke('object'), {
      name: 'switchboard',
      tags: ['a', 'b'],
      nested: { ok: true },
    });
    assert.equal(await c.invoke('nullResult'), null);
    assert.equal(await c.invoke('Echo', null), null);
    const before = sideEffects;
    assert.equal(await c.invoke('nothing'), undefined);
    assert.equal(sideEffects, before + 1);
  } finally {
    await c.stop();
  }
});

test('a void method gets a Completion without a result field; null gets "result":null', async () => {
  const raw = await rawConnect(hub);
  try {
    raw.send({ type: 1, invocationId: 'v', target: 'nothing', arguments: [] });
    raw.send({ type: 1, invocationId: 'n', target: 'nullResult', arguments: [] });
    const v = await raw.waitFor((m) => m.invocationId === 'v');
    const n = await raw.waitFor((m) => m.invocationId === 'n');
    assert.deepEqual(v, { type: 3, invocationId: 'v' });
    assert.deepEqual(n, { type: 3, invocationId: 'n', result: null });
  } finally {
    raw.ws.terminate();
  }
});

test('send runs the method and never gets a Completion, even when it throws', async () => {
  const c = await connectClient(hub);
  try {
    await c.send('crashSend', 'official');
    assert.equal(await sendRan.promise, 'official');
    // The connection is still usable and nothing was reported for the send.
    assert.equal(await c.invoke('echo', 'after'), 'after');
  } finally {
    await c.stop();
  }
  // The official client ignores stray Completions, so look at the wire with a bare client.
  const raw = await rawConnect(hub);
  try {
    raw.send({ type: 1, target: 'crashSend', arguments: ['raw'] });
    raw.send({ type: 1, target: 'nothing', arguments: [] });
    raw.send({ type: 1, target: 'noSuchMethod', arguments: [] });
    raw.send({ type: 1, target: 'add', arguments: [1] });
    raw.send({ type: 1, invocationId: 'last', target: 'echo', arguments: ['done'] });
    await raw.waitFor((m) => m.invocationId === 'last');
    assert.deepEqual(
      raw.messages.filter((m) => m.type === 3),
      [{ type: 3, invocationId: 'last', result: 'done' }],
    );
  } finally {
    raw.ws.terminate();
  }
});

test('method names match ignoring case; async methods resolve', async () => {
  const c = await connectClient(hub);
  try {
    assert.equal(await c.invoke('echo', 'a'), 'a');
    assert.equal(await c.invoke('ECHO', 'b'), 'b');
    assert.equal(await c.invoke('AdD', 1, 1), 2);
    assert.equal(await c.invoke('slowdouble', 21), 42);
    const results = await Promise.all([1, 2, 3].map((n) => c.invoke('slowDouble', n)));
    assert.deepEqual(results, [2, 4, 6]);
  } finally {
    await c.stop();
  }
});

test("a HubException's message reaches the caller; other errors get the generic text", async () => {
  const c = await connectClient(hub);
  try {
    await assert.rejects(c.invoke('refuse'), {
      message: "An unexpected error occurred invoking 'refuse' on the server. HubException: Room not found.",
    });
    await assert.rejects(c.invoke('asyncThrows'), {
      message:
        "An unexpected error occurred invoking 'asyncThrows' on the server. HubException: async refusal",
    });
    await assert.rejects(c.invoke('crash'), {
      message: "An unexpected error occurred invoking 'crash' on the server.",
    });
  } finally {
    await c.stop();
  }
});

test('enableDetailedErrors appends the error type and message', async () => {
  const c = await connectClient(detailed);
  try {
    await assert.rejects(c.invoke('crash'), {
      message:
        "An unexpected error occurred invoking 'crash' on the server. InvalidOperationException: An error occurred.",
    });
    await assert.rejects(c.invoke('refuse'), {
      message: "An unexpected error occurred invoking 'refuse' on the server. HubException: Room not found.",
    });
  } finally {
    await c.stop();
  }
});

test('an unknown method and a wrong argument count get the reference texts', async () => {
  const c = await connectClient(hub);
  const d = await connectClient(detailed);
  try {
    await assert.rejects(c.invoke('nope'), {
      message: "Failed to invoke 'nope' due to an error on the server. HubException: Method does not exist.",
    });
    await assert.rejects(d.invoke('nope'), {
      message: "Failed to invoke 'nope' due to an error on the server. HubException: Method does not exist.",
    });
    await assert.rejects(c.invoke('add', 1), {
      message: "Failed to invoke 'add' due to an error on the server.",
    });
    await assert.rejects(c.invoke('add', 1, 2, 3), {
      message: "Failed to invoke 'add' due to an error on the server.",
    });
    await assert.rejects(d.invoke('add', 1), {
      message:
        "Failed to invoke 'add' due to an error on the server. InvalidDataException: Invocation provides 1 argument(s) but target expects 2.",
    });
    // The connection survives every one of these.
    assert.equal(await c.invoke('add', 1, 2), 3);
  } finally {
    await Promise.all([c.stop(), d.stop()]);
  }
});

test('argument schemas: a function validator and a Standard Schema give a clear error or the transformed value', async () => {
  const c = await connectClient(hub);
  try {
    assert.equal(await c.invoke('nonEmpty', 'abc'), 'ABC');
    await assert.rejects(c.invoke('nonEmpty', ''), {
      message:
        "Failed to invoke 'nonEmpty' due to an error on the server. HubException: Invalid argument 1: expected a non-empty string",
    });
    await assert.rejects(c.invoke('nonEmpty', 42), /Invalid argument 1: expected a non-empty string$/);
    assert.deepEqual(await c.invoke('parse', '123'), { type: 'number', value: 123 });
    await assert.rejects(c.invoke('parse', 'x1'), {
      message:
        "Failed to invoke 'parse' due to an error on the server. HubException: Invalid argument 1: n: expected digits",
    });
    // The schema list fixes the argument count.
    await assert.rejects(c.invoke('parse'), {
      message: "Failed to invoke 'parse' due to an error on the server.",
    });
  } finally {
    await c.stop();
  }
});

test('methods starting with _ and the members of Hub are not callable', async () => {
  const c = await connectClient(hub);
  try {
    for (const name of [
      '_secret',
      'onConnected',
      'OnDisconnected',
      'constructor',
      'context',
      'clients',
      'groups',
    ]) {
      await assert.rejects(c.invoke(name), {
        message: `Failed to invoke '${name}' due to an error on the server. HubException: Method does not exist.`,
      });
    }
    for (const name of ['toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
      await assert.rejects(c.invoke(name), /Method does not exist\.$/);
    }
  } finally {
    await c.stop();
  }
});

test('inherited hub methods are callable, and an override wins', async () => {
  class Base extends Hub {
    hello() {
      return 'base';
    }
    shared() {
      return 'base shared';
    }
  }
  class Derived extends Base {
    override hello() {
      return 'derived';
    }
  }
  const s = await startTestServer((h) => h.mapHub('/derived', Derived));
  try {
    const c = await connectClient(`${s.baseUrl}/derived`);
    assert.equal(await c.invoke('hello'), 'derived');
    assert.equal(await c.invoke('shared'), 'base shared');
    await c.stop();
  } finally {
    await s.close();
  }
});

test('mapHub refuses two methods differing only in case, a path mapped twice and options for a missing method', () => {
  class CaseClash extends Hub {
    send() {}
    Send() {}
  }
  const hubs = new HubServer();
  assert.throws(
    () => hubs.mapHub('/clash', CaseClash),
    (e: unknown) =>
      e instanceof SwitchboardError &&
      e.code === 'SB_ERR_HUB_CONFIGURATION' &&
      /case-insensitive/.test(e.message),
  );
  hubs.mapHub('/once', CallsHub);
  for (const again of ['/once', '/ONCE', '/once/', 'once']) {
    assert.throws(
      () => hubs.mapHub(again, CallsHub),
      (e: unknown) => e instanceof SwitchboardError && e.code === 'SB_ERR_HUB_CONFIGURATION',
      again,
    );
  }
  const check: ArgumentSchema = () => undefined;
  class Misdeclared extends Hub {
    static methods = { missing: { parameters: [check] } };
    present(_x: unknown) {}
  }
  assert.throws(
    () => hubs.mapHub('/misdeclared', Misdeclared),
    (e: unknown) => e instanceof SwitchboardError && e.code === 'SB_ERR_HUB_CONFIGURATION',
  );
});
