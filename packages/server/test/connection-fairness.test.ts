// Fairness (issue 18): one connection's backlog never holds the others. A connection parses and
// handles at most maxMessagesPerTurn messages per turn of the event loop, and at most
// maxQueuedInvocations parsed invocations wait for a slot; past that it is not read, except for
// what could let the queue drain (stream items, Completions, Pings...).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CompletionMessage, MessageType } from '@switchboard/protocol';
import { Hub, HubConnectionContext, type UploadStream } from '@switchboard/server';
import { connectClient, deferred, RawClient, startTestServer, waitFor } from '@switchboard/testkit';

let echoed = 0;
let gate = deferred();
const contexts = new Map<string, HubConnectionContext>();

class FairHub extends Hub {
  override onConnected() {
    assert.ok(this.context instanceof HubConnectionContext);
    contexts.set(this.context.connectionId, this.context);
  }
  override onDisconnected() {
    contexts.delete(this.context.connectionId);
  }
  echo(message = '') {
    echoed++;
    return message;
  }
  /** How many echo calls ran before this one. */
  seen() {
    return echoed;
  }
  async slow() {
    await gate.promise;
    return 'slow';
  }
  async concat(stream: UploadStream<string>) {
    let text = '';
    for await (const part of stream) text += part;
    return text;
  }
}

const invocation = (id: string, target: string, args: unknown[] = []) =>
  `${JSON.stringify({ type: 1, invocationId: id, target, arguments: args })}\x1e`;

const completionIds = (raw: RawClient) =>
  raw.ofType(MessageType.Completion).map((m) => (m as CompletionMessage).invocationId);

describe('fairness between connections', () => {
  test("an unrelated client's call is answered while 131,000 calls of one 8 MiB frame are still queued", async () => {
    echoed = 0;
    const server = await startTestServer((hubs) => hubs.mapHub('/fair', FairHub), {
      // The test is about reading, not about a slow reader: the abusive client reads in this process.
      maxSendBufferSize: 256 * 1024 * 1024,
    });
    try {
      const abusive = await RawClient.connect(`${server.baseUrl}/fair`);
      const unrelated = await connectClient(`${server.baseUrl}/fair`);
      const count = 131_000;
      const parts: string[] = [];
      for (let i = 0; i < count; i++) parts.push(invocation(i.toString(36), 'echo'));
      const frame = parts.join('');
      assert.ok(Buffer.byteLength(frame) <= 8 * 1024 * 1024, 'one frame within maxWebSocketFrameSize');
      abusive.sendRaw(frame);
      await waitFor(() => echoed > 0, 10_000, 'the abusive calls to start');
      const seen = await unrelated.invoke<number>('seen');
      assert.ok(seen < count, `the unrelated call ran after all ${count} abusive calls`);
      await waitFor(() => abusive.messages.length >= count, 60_000, 'every Completion');
      const ids = completionIds(abusive);
      assert.deepEqual(ids.slice(0, 3), ['0', '1', '2']);
      assert.equal(ids.at(-1), (count - 1).toString(36), 'in order');
      assert.equal(abusive.isClosed, false);
      await unrelated.stop();
      abusive.close();
      await abusive.waitForClose();
    } finally {
      await server.close();
    }
  });

  test('past maxQueuedInvocations the connection is not read, but what could drain the queue still is', async () => {
    echoed = 0;
    gate = deferred();
    const server = await startTestServer((hubs) => hubs.mapHub('/fair', FairHub), {
      maxQueuedInvocations: 8,
      maxMessagesPerTurn: 4,
    });
    try {
      const raw = await RawClient.connect(`${server.baseUrl}/fair`);
      await waitFor(() => contexts.has(raw.connectionId!), 2_000, 'the connection');
      const context = contexts.get(raw.connectionId!)!;
      const upload = `${JSON.stringify({ type: 1, invocationId: 'u', target: 'concat', arguments: [], streamIds: ['s'] })}\x1e`;
      const queued = Array.from({ length: 20 }, (_, i) => invocation(`q${i}`, 'echo', [i]));
      const frame = [
        upload, // takes no slot
        invocation('slow', 'slow'), // takes the only slot until the gate opens
        ...queued.slice(0, 10), // more than the queue holds
        // Behind a full queue: the stream's item and end, and a Ping, are still read.
        `${JSON.stringify({ type: 2, invocationId: 's', item: 'drained' })}\x1e`,
        `${JSON.stringify({ type: 3, invocationId: 's' })}\x1e`,
        `${JSON.stringify({ type: 6 })}\x1e`,
        ...queued.slice(10),
      ].join('');
      raw.sendRaw(frame);
      const done = (await raw.waitForMessage(
        (m) => m.type === MessageType.Completion && m.invocationId === 'u',
        5_000,
        'the upload call',
      )) as CompletionMessage;
      assert.equal(done.result, 'drained');
      assert.equal(echoed, 0, 'the queued calls wait for the slot');
      // All 20 were sent; the connection parsed only up to the bound (plus one turn's budget).
      const waiting = context.queuedInvocations;
      assert.ok(waiting >= 8 && waiting <= 8 + 4, `${waiting} invocations queued`);
      assert.ok(waiting < 20, 'the rest stays unread');
      gate.resolve();
      await waitFor(() => raw.ofType(MessageType.Completion).length === 22, 5_000, 'every Completion');
      assert.deepEqual(completionIds(raw), ['u', 'slow', ...queued.map((_, i) => `q${i}`)]);
      raw.close();
      await raw.waitForClose();
    } finally {
      await server.close();
    }
  });

  test('maxQueuedInvocations and maxMessagesPerTurn must be positive numbers', async () => {
    for (const option of ['maxQueuedInvocations', 'maxMessagesPerTurn']) {
      await assert.rejects(
        startTestServer((hubs) => hubs.mapHub('/fair', FairHub), { [option]: 0 }),
        new RegExp(`Option '${option}' must be a positive number`),
      );
    }
  });
});
