// The service's protocol wrapper: every client Invocation goes to the upstream method with the
// exact bytes the client sent for it (batched frames too), other messages pass unchanged, and the
// dispatcher's wrapping of an upstream error is taken off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonHubProtocol, MessageType, messagePackHubProtocol } from '@switchboard/protocol';
import {
  serviceJsonProtocol,
  serviceMessagePackProtocol,
  UPSTREAM_METHOD,
} from '../src/upstream-protocol.ts';

for (const [name, inner, wrapped] of [
  ['JSON', jsonHubProtocol, serviceJsonProtocol],
  ['MessagePack', messagePackHubProtocol, serviceMessagePackProtocol],
] as const) {
  test(`${name}: a batch keeps each invocation's own bytes; pings, completions and upload streams pass`, () => {
    const first = inner.writeMessage({
      type: MessageType.Invocation,
      invocationId: '1',
      target: 'Echo',
      arguments: [1, 'a'],
    });
    const ping = inner.writeMessage({ type: MessageType.Ping });
    const second = inner.writeMessage({
      type: MessageType.Invocation,
      target: 'note',
      arguments: [{ x: [true] }],
    });
    const upload = inner.writeMessage({
      type: MessageType.Invocation,
      invocationId: '2',
      target: 'up',
      arguments: [],
      streamIds: ['s'],
    });
    const partial = second.subarray(0, second.length - 2);
    const batch = Buffer.concat([first, ping, second, upload, partial]);
    const { messages, consumed } = wrapped.parseMessages(batch);
    assert.equal(consumed, batch.length - partial.length, 'the incomplete tail stays');
    assert.equal(messages.length, 4);
    const [a, p, b, u] = messages as [never, never, never, never];
    assert.deepEqual(a, {
      type: MessageType.Invocation,
      invocationId: '1',
      target: UPSTREAM_METHOD,
      arguments: ['Echo', first],
    });
    assert.deepEqual(p, { type: MessageType.Ping });
    assert.deepEqual((b as { arguments: unknown[] }).arguments, ['note', second]);
    assert.equal(
      (u as { target: string }).target,
      'up',
      'an invocation with upload streams is not forwarded',
    );
    // maxMessages is honoured.
    assert.equal(wrapped.parseMessages(batch, { maxMessages: 2 }).messages.length, 2);
  });

  test(`${name}: the upstream's error reaches the client without the dispatcher's wrapping`, () => {
    const wrappedError = `An unexpected error occurred invoking '${UPSTREAM_METHOD}' on the server. HubException: nope`;
    const bytes = wrapped.writeMessage({
      type: MessageType.Completion,
      invocationId: '1',
      hasResult: false,
      error: wrappedError,
    });
    const [message] = inner.parseMessages(bytes).messages as unknown as [{ error: string }];
    assert.equal(message.error, 'nope');
    const other = "An unexpected error occurred invoking 'Other' on the server. HubException: kept";
    const kept = wrapped.writeMessage({
      type: MessageType.Completion,
      invocationId: '1',
      hasResult: false,
      error: other,
    });
    assert.equal((inner.parseMessages(kept).messages[0] as { error: string }).error, other);
  });
}
