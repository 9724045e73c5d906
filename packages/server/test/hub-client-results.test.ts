// Client results (docs/protocol.md#parallel-invocations, docs/protocol.md#client-results) with the official
// client over WebSockets, in
// JSON and MessagePack: `clients.caller.invoke` and `clients.client(id).invoke` resolve with what
// the client's handler returns and reject with its error, a missing handler, a timeout, an aborted
// signal, a disconnect or an unknown connection; a method awaiting its own caller does not
// deadlock under one invocation at a time; ids are `s1`, `s2`, … on the wire.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { type InvocationMessage, MessageType } from '@switchboard/protocol';
import { Hub } from '@switchboard/server';
import {
  connectClient,
  deferred,
  RawClient,
  startTestServer,
  type TestServer,
  waitFor,
  within,
} from '@switchboard/testkit';

/** What a client-result call ended with, as the hub saw it. */
type Outcome = { value: unknown } | { error: string; name: string; code: string | null };

async function outcome(call: Promise<unknown>): Promise<Outcome> {
  try {
    return { value: await call };
  } catch (error) {
    const e = error as Error & { code?: string };
    return { error: e.message, name: e.name, code: e.code ?? null };
  }
}

let holdGate = deferred();

class ResultHub extends Hub {
  askCaller(method: string) {
    return outcome(this.clients.caller.invoke(method, 'question', 1));
  }

  askClient(connectionId: string, method: string) {
    return outcome(this.clients.client(connectionId).invoke(method));
  }

  askWithTimeout(method: string, timeoutMs: number) {
    return outcome(this.clients.caller.invokeWith({ timeoutMs }, method));
  }

  askThenAbort(method: string) {
    const controller = new AbortController();
    const call = this.clients.caller.invokeWith({ signal: controller.signal }, method);
    controller.abort(new Error('the hub gave up'));
    return outcome(call);
  }

  /** Lets an unhandled client error reach the caller as the invocation's error. */
  askUnguarded(method: string) {
    return this.clients.caller.invoke(method);
  }

  async hold() {
    await holdGate.promise;
    return 'held';
  }

  echo(x: unknown) {
    return x;
  }
}

const protocols = [
  ['JSON', undefined],
  ['MessagePack', new MessagePackHubProtocol()],
] as const;

let server: TestServer;

before(async () => {
  server = await startTestServer((hubs) => {
    hubs.mapHub('/results', ResultHub);
    hubs.mapHub('/short', ResultHub, { clientResultTimeoutMs: 100 });
  });
});

after(async () => {
  await server.close();
});

for (const [name, protocol] of protocols) {
  describe(`client results over ${name}`, { timeout: 60_000 }, () => {
    let client: HubConnection;

    before(async () => {
      client = await connectClient(`${server.baseUrl}/results`, { protocol });
      client.on('getValue', (question: string, n: number) => ({ question, n, answer: 42 }));
      client.on('getNull', () => null);
      client.on('getAsync', async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        return 'later';
      });
      client.on('fail', () => {
        throw new Error('from callback');
      });
      client.on('never', () => new Promise(() => undefined));
      // While the hub waits for this answer, the handler invokes the hub on the same connection.
      client.on('nested', async () => `nested: ${await client.invoke('echo', 'inner')}`);
    });

    after(async () => {
      await client.stop();
    });

    test("the caller's value comes back, null included, from sync and async handlers", async () => {
      assert.deepEqual(await client.invoke('askCaller', 'getValue'), {
        value: { question: 'question', n: 1, answer: 42 },
      });
      assert.deepEqual(
        await client.invoke('askCaller', 'getnull'),
        { value: null },
        'handlers match ignoring case',
      );
      assert.deepEqual(await client.invoke('askCaller', 'getAsync'), { value: 'later' });
    });

    test("the client's error and a missing handler reject with the client's text", async () => {
      assert.deepEqual(await client.invoke('askCaller', 'fail'), {
        error: 'Error: from callback',
        name: 'HubException',
        code: null,
      });
      assert.deepEqual(await client.invoke('askCaller', 'noSuchHandler'), {
        error: "Client didn't provide a result.",
        name: 'HubException',
        code: null,
      });
      // Unhandled in the hub, the client's text reaches the caller as a HubException's does.
      await assert.rejects(client.invoke('askUnguarded', 'fail'), {
        message:
          "An unexpected error occurred invoking 'askUnguarded' on the server. HubException: Error: from callback",
      });
    });

    test('a timeout and an aborted signal reject; the connection goes on', async () => {
      const timedOut = (await client.invoke('askWithTimeout', 'never', 50)) as {
        error: string;
        code: string;
      };
      assert.equal(timedOut.code, 'SB_ERR_CLIENT_RESULT_TIMEOUT');
      assert.match(timedOut.error, /^Timed out waiting for a result from connection '.+'\.$/);
      assert.deepEqual(await client.invoke('askThenAbort', 'never'), {
        error: 'the hub gave up',
        name: 'Error',
        code: null,
      });
      assert.equal(await client.invoke('echo', 'fine'), 'fine');
    });

    test("the hub's clientResultTimeoutMs is the default timeout", async () => {
      const short = await connectClient(`${server.baseUrl}/short`, { protocol });
      try {
        short.on('never', () => new Promise(() => undefined));
        const started = Date.now();
        const result = (await short.invoke('askCaller', 'never')) as { error: string; code: string };
        assert.equal(result.code, 'SB_ERR_CLIENT_RESULT_TIMEOUT');
        assert.equal(result.error, `Timed out waiting for a result from connection '${short.connectionId}'.`);
        assert.ok(Date.now() - started < 2_000);
      } finally {
        await short.stop();
      }
    });

    test('another connection answers; its disconnect and an unknown id reject', async () => {
      const other = await connectClient(`${server.baseUrl}/results`, { protocol });
      other.on('getValue', () => 'from the other');
      const waiting = deferred();
      other.on('never', () => {
        waiting.resolve();
        return new Promise(() => undefined);
      });
      assert.deepEqual(await client.invoke('askClient', other.connectionId, 'getValue'), {
        value: 'from the other',
      });
      const otherId = other.connectionId!;
      const pending = client.invoke('askClient', otherId, 'never');
      await waiting.promise;
      await other.stop();
      assert.deepEqual(await pending, {
        error: `Connection '${otherId}' disconnected.`,
        name: 'SwitchboardError',
        code: 'SB_ERR_CLIENT_RESULT_FAILED',
      });
      assert.deepEqual(await client.invoke('askClient', 'no-such-connection', 'getValue'), {
        error: "Connection 'no-such-connection' does not exist.",
        name: 'SwitchboardError',
        code: 'SB_ERR_CLIENT_RESULT_FAILED',
      });
    });

    test('a method awaiting its own caller does not deadlock with one invocation at a time', async () => {
      // `nested` invokes `echo` on the same connection while `askCaller` waits for it: `askCaller`
      // gives its slot back meanwhile, as the reference does.
      assert.deepEqual(await within(client.invoke('askCaller', 'nested')), { value: 'nested: inner' });
      // Several in a row, and the slot is still whole afterwards.
      const results = await within(
        Promise.all([
          client.invoke('askCaller', 'nested'),
          client.invoke('echo', 'between'),
          client.invoke('askCaller', 'getNull'),
        ]),
      );
      assert.deepEqual(results, [{ value: 'nested: inner' }, 'between', { value: null }]);
    });

    test('a hub context outside any hub method gets results too', async () => {
      const clients = server.hubs.hubContext('/results').clients;
      assert.deepEqual(await clients.client(client.connectionId!).invoke('getValue', 'q', 2), {
        question: 'q',
        n: 2,
        answer: 42,
      });
    });
  });
}

describe('client results on the wire', () => {
  test("ids are s1, s2, … per connection; a Completion settles them while the connection's slot is taken", async () => {
    const raw = await RawClient.connect(`${server.baseUrl}/results`);
    try {
      holdGate = deferred();
      const held = raw.invoke('hold'); // takes the connection's only slot
      const clients = server.hubs.hubContext('/results').clients;
      const first = clients.client(raw.connectionId!).invoke('m', 'a');
      const second = clients.client(raw.connectionId!).invoke('m', 'b');
      await waitFor(() => raw.ofType(MessageType.Invocation).length === 2, 5_000, 'two invocations');
      const invocations = raw.ofType(MessageType.Invocation) as InvocationMessage[];
      assert.deepEqual(
        invocations.map((m) => [m.invocationId, m.target, m.arguments]),
        [
          ['s1', 'm', ['a']],
          ['s2', 'm', ['b']],
        ],
      );
      raw.send(
        { type: MessageType.Completion, invocationId: 's2', hasResult: true, result: 'two' },
        { type: MessageType.Completion, invocationId: 's1', hasResult: false, error: 'Error: one' },
      );
      assert.equal(await second, 'two');
      await assert.rejects(first, { name: 'HubException', message: 'Error: one' });
      holdGate.resolve();
      assert.equal(((await held) as { result?: unknown }).result, 'held');
    } finally {
      holdGate.resolve();
      raw.close();
      await raw.waitForClose();
    }
  });
});
