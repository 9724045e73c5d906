// What operators see: logs that never carry a secret, and metrics that add up.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import { type CompletionMessage, MessageType } from '@switchboard/protocol';
import {
  CounterMetrics,
  createJsonLogger,
  Hub,
  type HubMetrics,
  jwtBearerAuthenticator,
  noopMetrics,
  signJwt,
  UNKNOWN_METHOD_LABEL,
} from '@switchboard/server';
import { connectClient, negotiate, RawClient, startTestServer, waitFor } from '@switchboard/testkit';

class EchoHub extends Hub {
  echo(text: string) {
    return text;
  }
  fail() {
    throw new Error('boom');
  }
  whoami() {
    return this.context.userIdentifier ?? null;
  }
}

describe('logs', () => {
  test('never contain access tokens or connection tokens, even at debug level', async () => {
    const lines: string[] = [];
    const secret = 'jwt-secret-for-the-test';
    const jwt = signJwt({ sub: 'alice' }, secret);
    const headerJwt = signJwt({ sub: 'bob' }, secret);
    const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
      logger: createJsonLogger('debug', (line) => lines.push(line)),
      authenticate: jwtBearerAuthenticator({ secret }),
    });
    const secrets: string[] = [jwt, headerJwt, 'not-a-jwt-but-secret'];
    try {
      // A token in the query of the hub URL: the client carries it into negotiate and the upgrade.
      const viaQuery = await connectClient(`${server.baseUrl}/echo?access_token=${jwt}`);
      assert.equal(await viaQuery.invoke('whoami'), 'alice');
      // A token in the Authorization header (Node's official client), over skipNegotiation too.
      const viaHeader = await connectClient(`${server.baseUrl}/echo`, {
        accessTokenFactory: () => headerJwt,
      });
      assert.equal(await viaHeader.invoke('whoami'), 'bob');
      const direct = await connectClient(`${server.baseUrl}/echo?access_token=${jwt}`, {
        skipNegotiation: true,
        transport: HttpTransportType.WebSockets,
      });
      assert.equal(await direct.invoke('whoami'), 'alice');
      // A bad token, and a raw client whose negotiated connection token must stay secret.
      const bad = await connectClient(`${server.baseUrl}/echo?access_token=not-a-jwt-but-secret`);
      assert.equal(await bad.invoke('whoami'), null);
      const raw = await RawClient.connect(`${server.baseUrl}/echo`, { query: { access_token: jwt } });
      secrets.push(raw.connectionToken!);
      raw.sendRaw('garbage\x1e'); // a protocol error gets logged too
      await raw.waitForClose();
      // An escaped key is still the key the server reads, so it is redacted too.
      const escaped = await RawClient.connect(`${server.baseUrl}/echo?access%5Ftoken=${jwt}`, { id: null });
      assert.equal(((await escaped.invoke('whoami')) as CompletionMessage).result, 'alice');
      escaped.close();
      await escaped.waitForClose();
      const v0 = (await negotiate(`${server.baseUrl}/echo`, '')).json!;
      assert.ok(v0.connectionId, 'a v0 id is also its token, and public ids may be logged');
      await Promise.all([viaQuery.stop(), viaHeader.stop(), direct.stop(), bad.stop()]);
    } finally {
      await server.close();
    }
    assert.ok(lines.length > 5, `the scenario logged (${lines.length} lines)`);
    assert.ok(
      lines.some((l) => l.includes('connection.opened')),
      'debug events were captured',
    );
    for (const line of lines) {
      for (const value of secrets) assert.ok(!line.includes(value), `a secret leaked into: ${line}`);
    }
  });
});

describe('metrics', () => {
  test('CounterMetrics counts connections, messages and bytes both ways, invocations and errors', async () => {
    const metrics = new CounterMetrics();
    const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), { metrics });
    try {
      const raw = await RawClient.connect(`${server.baseUrl}/echo`);
      const sent: string[] = [];
      const sendRaw = (text: string) => {
        sent.push(text);
        raw.sendRaw(text);
      };
      sendRaw('{"type":6}\x1e');
      sendRaw('{"type":1,"invocationId":"1","target":"echo","arguments":["hello"]}\x1e');
      sendRaw('{"type":1,"invocationId":"2","target":"fail","arguments":[]}\x1e');
      sendRaw('{"type":1,"invocationId":"3","target":"missing","arguments":[]}\x1e');
      await raw.waitForMessage((m) => m.type === MessageType.Completion && m.invocationId === '3');
      sendRaw('{"type":7}\x1e');
      await raw.waitForClose();
      const bad = await RawClient.connect(`${server.baseUrl}/echo`);
      bad.sendRaw('garbage\x1e');
      await bad.waitForClose();
      await waitFor(() => metrics.snapshot().connectionsClosed === 2, 2_000, 'both connections to close');

      const snapshot = metrics.snapshot();
      assert.equal(snapshot.connectionsOpened, 2);
      assert.equal(snapshot.connectionsClosed, 2);
      assert.equal(snapshot.activeConnections, 0);
      assert.equal(snapshot.messagesReceived, 5, 'ping, three invocations, close (not the handshakes)');
      assert.equal(
        snapshot.bytesReceived,
        sent.reduce((n, s) => n + Buffer.byteLength(s), 0),
      );
      const frames = [...raw.frames, ...bad.frames];
      assert.equal(snapshot.messagesSent, frames.length, 'one per write');
      assert.equal(
        snapshot.bytesSent,
        frames.reduce((n, f) => n + f.data.length, 0),
        'every byte the clients received',
      );
      assert.equal(snapshot.invocations, 3);
      assert.equal(snapshot.invocationsFailed, 2);
      assert.equal(snapshot.errors.SB_ERR_PROTOCOL_VIOLATION, 1);
      assert.equal(snapshot.errors.SB_ERR_HUB_METHOD_FAILED, 1);
    } finally {
      await server.close();
    }
  });

  test('failed handshakes and dropped sockets count as errors, not as connections', async () => {
    const metrics = new CounterMetrics();
    const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), { metrics });
    try {
      const refused = await RawClient.connect(`${server.baseUrl}/echo`, {
        handshake: '{"protocol":"foo","version":1}\x1e',
      });
      await refused.waitForClose();
      const dropped = await RawClient.connect(`${server.baseUrl}/echo`);
      dropped.terminate();
      await waitFor(() => metrics.snapshot().connectionsClosed === 1, 2_000, 'the drop');
      const snapshot = metrics.snapshot();
      assert.equal(snapshot.connectionsOpened, 1);
      assert.equal(snapshot.errors.SB_ERR_HANDSHAKE_FAILED, 1);
      assert.equal(snapshot.errors.SB_ERR_CONNECTION_ABORTED, 1);
    } finally {
      await server.close();
    }
  });

  test("invocation metrics are labelled with the hub's own method names only; any other target is 'unknown'", async () => {
    const labels: string[] = [];
    const metrics: HubMetrics = {
      ...noopMetrics,
      invocationCompleted: (_hub, method) => labels.push(method),
    };
    const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), { metrics });
    try {
      const raw = await RawClient.connect(`${server.baseUrl}/echo`);
      assert.equal(((await raw.invoke('ECHO', ['a'])) as CompletionMessage).result, 'a');
      await raw.invoke('fail');
      for (let i = 0; i < 3; i++) await raw.invoke(`made-up-${i}`);
      raw.send({
        type: MessageType.StreamInvocation,
        invocationId: 's1',
        target: 'no-such-stream',
        arguments: [],
      });
      await raw.waitForMessage((m) => m.type === MessageType.Completion && m.invocationId === 's1');
      await waitFor(() => labels.length === 6, 2_000, 'six invocations counted');
      assert.deepEqual(labels, [
        'echo',
        'fail',
        UNKNOWN_METHOD_LABEL,
        UNKNOWN_METHOD_LABEL,
        UNKNOWN_METHOD_LABEL,
        'unknown',
      ]);
      raw.close();
      await raw.waitForClose();
    } finally {
      await server.close();
    }
  });
});
