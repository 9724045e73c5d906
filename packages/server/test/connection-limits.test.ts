// The receive size limit and protocol errors (docs/protocol.md#json-reading,
// docs/protocol.md#message-size-limit, docs/protocol.md#protocol-errors): a bad client is closed with an
// error, and nobody else notices.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CloseMessage, type CompletionMessage, MessageType } from '@switchboard/protocol';
import { Hub } from '@switchboard/server';
import { connectClient, deferred, RawClient, startTestServer, type TestServer } from '@switchboard/testkit';

class EchoHub extends Hub {
  echo(text: string) {
    return text;
  }
}

const ERROR_CLOSE = '{"type":7,"error":"Connection closed with an error.","allowReconnect":true}\x1e';
const invocation = (id: string, text: string) =>
  `{"type":1,"invocationId":"${id}","target":"echo","arguments":[${JSON.stringify(text)}]}\x1e`;

/** Sends `data` on a fresh connection and returns the Close it got (after the socket closed). */
async function closedBy(
  hubUrl: string,
  ...data: (string | Buffer)[]
): Promise<{ close: CloseMessage; raw: string }> {
  const raw = await RawClient.connect(hubUrl);
  for (const chunk of data) raw.sendRaw(chunk);
  const ws = await raw.waitForClose();
  assert.equal(ws.code, 1000);
  const close = raw.messages.at(-1);
  assert.equal(close?.type, MessageType.Close, 'the last message is a Close');
  return { close: close as CloseMessage, raw: raw.frames.at(-1)!.data.toString('utf8') };
}

async function echoes(hubUrl: string, text: string): Promise<boolean> {
  const raw = await RawClient.connect(hubUrl);
  raw.sendRaw(invocation('1', text));
  const reply = (await raw.waitForMessage(
    (m) => m.type === MessageType.Completion && m.invocationId === '1',
  )) as CompletionMessage;
  raw.close();
  await raw.waitForClose();
  return reply.result === text;
}

describe('maximum receive message size', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer((hubs) => {
      hubs.mapHub('/echo', EchoHub);
      hubs.mapHub('/detailed', EchoHub, { enableDetailedErrors: true });
      hubs.mapHub('/small', EchoHub, { maximumReceiveMessageSize: 256 });
    });
  });
  after(() => server.close());

  test('a message over the 32 KiB default closes the connection with the generic error', async () => {
    const { raw } = await closedBy(`${server.baseUrl}/echo`, invocation('1', 'x'.repeat(33_000)));
    assert.equal(raw, ERROR_CLOSE);
  });

  test('a message just under the default is served', async () => {
    assert.ok(await echoes(`${server.baseUrl}/echo`, 'x'.repeat(32_000)));
  });

  test('with detailed errors the close names the limit', async () => {
    const { close } = await closedBy(`${server.baseUrl}/detailed`, invocation('1', 'x'.repeat(33_000)));
    assert.equal(
      close.error,
      'Connection closed with an error. InvalidDataException: The maximum message size of 32768B was exceeded. The message size can be configured in AddHubOptions.',
    );
    assert.equal(close.allowReconnect, true);
  });

  test('a small limit: exactly the limit passes, one byte more closes', async () => {
    const hubUrl = `${server.baseUrl}/small`;
    const base = Buffer.byteLength(invocation('1', ''));
    assert.ok(await echoes(hubUrl, 'a'.repeat(256 - base)), 'a 256-byte message (separator included)');
    const { close } = await closedBy(hubUrl, invocation('1', 'a'.repeat(257 - base)));
    assert.equal(close.error, 'Connection closed with an error.');
  });

  test('the limit is per message: a frame may batch many messages, a message may span frames', async () => {
    const raw = await RawClient.connect(`${server.baseUrl}/small`);
    const batch = ['1', '2', '3', '4'].map((id) => invocation(id, 'b'.repeat(150))).join('');
    assert.ok(Buffer.byteLength(batch) > 600);
    raw.sendRaw(batch);
    for (const id of ['1', '2', '3', '4']) {
      await raw.waitForMessage((m) => m.type === MessageType.Completion && m.invocationId === id);
    }
    raw.close();
    await raw.waitForClose();
  });

  test('a message growing over the limit across frames closes before it ends', async () => {
    const message = invocation('1', 'c'.repeat(400));
    const { close } = await closedBy(
      `${server.baseUrl}/small`,
      message.slice(0, 200),
      message.slice(200, 300),
    );
    assert.equal(close.error, 'Connection closed with an error.');
  });

  test('the official client is closed too, with the error it can show', async () => {
    const client = await connectClient(`${server.baseUrl}/echo`);
    const closed = deferred<Error | undefined>();
    client.onclose((error) => closed.resolve(error));
    void client.invoke('echo', 'y'.repeat(40_000)).catch(() => {});
    assert.match(
      String(await closed.promise),
      /Server returned an error on close: Connection closed with an error\./,
    );
  });
});

describe('protocol errors', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer((hubs) => {
      hubs.mapHub('/echo', EchoHub);
      hubs.mapHub('/detailed', EchoHub, { enableDetailedErrors: true });
    });
  });
  after(() => server.close());

  test('garbage bytes close the connection with an error', async () => {
    const garbage = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x1e]);
    assert.equal((await closedBy(`${server.baseUrl}/echo`, garbage)).raw, ERROR_CLOSE);
    assert.equal((await closedBy(`${server.baseUrl}/echo`, 'not json\x1e')).raw, ERROR_CLOSE);
    const { close } = await closedBy(`${server.baseUrl}/detailed`, 'not json\x1e');
    assert.match(close.error!, /^Connection closed with an error\. \w+: Error reading JSON\.$/);
  });

  test('an invocation without a target is a protocol error', async () => {
    const missingTarget = '{"type":1,"invocationId":"1","arguments":[]}\x1e';
    assert.equal((await closedBy(`${server.baseUrl}/echo`, missingTarget)).raw, ERROR_CLOSE);
    const { close } = await closedBy(`${server.baseUrl}/detailed`, missingTarget);
    assert.match(close.error!, /Missing required property 'target'\./);
  });

  test('a message without a type is a protocol error', async () => {
    const { close } = await closedBy(`${server.baseUrl}/detailed`, '{"target":"echo","arguments":[]}\x1e');
    assert.match(close.error!, /Missing required property 'type'\./);
  });

  test('an unknown message type is ignored and the connection goes on', async () => {
    const raw = await RawClient.connect(`${server.baseUrl}/echo`);
    raw.sendRaw('{"type":99,"whatever":true}\x1e');
    const reply = (await raw.invoke('echo', ['after'])) as CompletionMessage;
    assert.equal(reply.result, 'after');
    assert.equal(raw.isClosed, false);
    raw.close();
    await raw.waitForClose();
  });

  test('a bad client does not disturb the others', async () => {
    const good = await connectClient(`${server.baseUrl}/echo`);
    const goodRaw = await RawClient.connect(`${server.baseUrl}/echo`);
    await Promise.all([
      closedBy(`${server.baseUrl}/echo`, 'garbage\x1e'),
      closedBy(`${server.baseUrl}/echo`, invocation('1', 'z'.repeat(40_000))),
      closedBy(`${server.baseUrl}/echo`, '{"type":1,"arguments":[]}\x1e'),
    ]);
    assert.equal(await good.invoke('echo', 'fine'), 'fine');
    assert.equal(((await goodRaw.invoke('echo', ['fine too'])) as CompletionMessage).result, 'fine too');
    await good.stop();
    goodRaw.close();
    await goodRaw.waitForClose();
  });
});
