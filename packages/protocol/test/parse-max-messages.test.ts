// ParseOptions.maxMessages: a large buffer is worked through a slice at a time (the server's budget
// per turn of the event loop), with the same messages in the same order as one parse.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type HubMessage, jsonHubProtocol, MessageType, messagePackHubProtocol } from '@switchboard/protocol';

const messages: HubMessage[] = Array.from({ length: 10 }, (_, i) => ({
  type: MessageType.Invocation,
  invocationId: String(i),
  target: 'echo',
  arguments: [i],
}));

for (const protocol of [jsonHubProtocol, messagePackHubProtocol]) {
  describe(`${protocol.name}: maxMessages`, () => {
    const whole = Buffer.concat(messages.map((m) => protocol.writeMessage(m)));
    const input = Buffer.concat([whole, protocol.writeMessage(messages[0]!).subarray(0, 3)]);

    it('stops after that many messages and leaves the rest unconsumed', () => {
      const first = protocol.parseMessages(input, { maxMessages: 3 });
      assert.deepEqual(first.messages, messages.slice(0, 3));
      assert.equal(
        first.consumed,
        Buffer.concat(messages.slice(0, 3).map((m) => protocol.writeMessage(m))).length,
      );
    });

    it('slices parse to the same messages as one parse; a half message stays unconsumed', () => {
      const parsed: HubMessage[] = [];
      let rest: Buffer = input;
      for (;;) {
        const { messages: slice, consumed } = protocol.parseMessages(rest, { maxMessages: 4 });
        if (consumed === 0) break;
        parsed.push(...slice);
        rest = rest.subarray(consumed);
      }
      assert.deepEqual(parsed, messages);
      assert.equal(rest.length, 3);
      assert.deepEqual(protocol.parseMessages(input).messages, messages);
    });
  });
}
