import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  findRecordSeparator,
  parseTextMessages,
  RECORD_SEPARATOR,
  writeTextMessage,
} from '@switchboard/protocol';
import { assertProtocolError } from './helpers.js';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
const tooLarge = (max: number) =>
  `The maximum message size of ${max}B was exceeded. The message size can be configured in AddHubOptions.`;

describe('text message format (0x1E framing)', () => {
  it('writes the payload followed by 0x1E, from a string or from bytes', () => {
    assert.deepEqual(writeTextMessage('ABC'), Buffer.from([0x41, 0x42, 0x43, RECORD_SEPARATOR]));
    assert.deepEqual(writeTextMessage(Uint8Array.of(0x41)), Buffer.from([0x41, 0x1e]));
    assert.deepEqual(writeTextMessage(''), Buffer.from([0x1e]));
    assert.equal(writeTextMessage('é').length, 3, 'UTF-8 encoded');
  });

  it('finds separators from a start index', () => {
    const input = Buffer.from('a\u001eb\u001e');
    assert.equal(findRecordSeparator(input), 1);
    assert.equal(findRecordSeparator(input, 2), 3);
    assert.equal(findRecordSeparator(input, 4), -1);
  });

  it('splits several messages and keeps payloads that contain line breaks', () => {
    const { payloads, consumed } = parseTextMessages(Buffer.from('Hello,\r\nWorld!\u001e{}\u001eABC\u001e'));
    assert.deepEqual(payloads.map(text), ['Hello,\r\nWorld!', '{}', 'ABC']);
    assert.equal(consumed, 22);
  });

  it('leaves an incomplete tail unconsumed', () => {
    assert.deepEqual(parseTextMessages(Buffer.from('ABC')), { payloads: [], consumed: 0 });
    const { payloads, consumed } = parseTextMessages(Buffer.from('ABC\u001eDE'));
    assert.deepEqual(payloads.map(text), ['ABC']);
    assert.equal(consumed, 4);
    assert.deepEqual(parseTextMessages(new Uint8Array(0)), { payloads: [], consumed: 0 });
  });

  it('returns empty messages as empty payloads (the codec decides)', () => {
    const { payloads, consumed } = parseTextMessages(Buffer.from('\u001e\u001e'));
    assert.deepEqual(payloads.map(text), ['', '']);
    assert.equal(consumed, 2);
  });

  it('returns views into the input, not copies', () => {
    const input = Buffer.from('AB\u001e');
    const [payload] = parseTextMessages(input).payloads;
    assert.equal(payload.buffer, input.buffer);
  });

  describe('maximum message size (the separator counts)', () => {
    it('accepts a message exactly at the limit', () => {
      assert.equal(parseTextMessages(Buffer.from('ABC\u001e'), 4).payloads.length, 1);
    });

    it('rejects a complete message one byte over the limit', () => {
      assertProtocolError(
        () => parseTextMessages(Buffer.from('ABCD\u001e'), 4),
        'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE',
        tooLarge(4),
      );
    });

    it('waits while at most the limit is buffered without a separator, fails past it', () => {
      assert.deepEqual(parseTextMessages(Buffer.from('ABCD'), 4), { payloads: [], consumed: 0 });
      assertProtocolError(
        () => parseTextMessages(Buffer.from('ABCDE'), 4),
        'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE',
        tooLarge(4),
      );
    });

    it('applies the limit to each message, not to the whole buffer', () => {
      const { payloads } = parseTextMessages(Buffer.from('ABC\u001eDEF\u001eGH'), 4);
      assert.deepEqual(payloads.map(text), ['ABC', 'DEF']);
      assertProtocolError(
        () => parseTextMessages(Buffer.from('ABC\u001eDEFGH\u001e'), 4),
        'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE',
        tooLarge(4),
      );
    });
  });
});
