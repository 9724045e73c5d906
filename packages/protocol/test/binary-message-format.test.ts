import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  lengthPrefixSize,
  parseBinaryMessages,
  readLengthPrefix,
  writeBinaryMessage,
  writeLengthPrefix,
} from '@switchboard/protocol';
import { assertProtocolError, hex, toHex } from './helpers.js';

const OVER_2GB = 'Messages over 2GB in size are not supported.';

describe('binary message format (varint length prefix)', () => {
  // Lengths and their prefixes at every byte-count boundary, up to the 2^31-1 maximum.
  const prefixes: Array<[number, string]> = [
    [0, '00'],
    [1, '01'],
    [0x7f, '7f'],
    [0x80, '80 01'],
    [0x3fff, 'ff 7f'],
    [0x4000, '80 80 01'],
    [0x1fffff, 'ff ff 7f'],
    [0x200000, '80 80 80 01'],
    [0xfffffff, 'ff ff ff 7f'],
    [0x10000000, '80 80 80 80 01'],
    [0x7fffffff, 'ff ff ff ff 07'],
  ];

  for (const [length, bytes] of prefixes) {
    it(`writes and reads the prefix of ${length} as ${bytes}`, () => {
      const target = new Uint8Array(5);
      const written = writeLengthPrefix(length, target);
      assert.equal(toHex(target.subarray(0, written)), bytes);
      assert.equal(lengthPrefixSize(length), written);
      assert.deepEqual(readLengthPrefix(hex(bytes)), { length, prefixSize: written });
    });
  }

  it('refuses to write a length that does not fit', () => {
    assert.throws(() => writeLengthPrefix(0x80000000, new Uint8Array(5)), RangeError);
    assert.throws(() => writeLengthPrefix(-1, new Uint8Array(5)), RangeError);
  });

  it('frames a payload', () => {
    assert.equal(toHex(writeBinaryMessage(hex('91 06'))), '02 91 06');
    assert.equal(toHex(writeBinaryMessage(new Uint8Array(0))), '00');
    const big = writeBinaryMessage(new Uint8Array(128));
    assert.equal(toHex(big.subarray(0, 2)), '80 01');
    assert.equal(big.length, 130);
  });

  it('reads one message of each size class', () => {
    const body = Uint8Array.from({ length: 128 }, (_, i) => i);
    const { payloads, consumed } = parseBinaryMessages(Buffer.concat([hex('80 01'), body]));
    assert.deepEqual(payloads, [Buffer.from(body)]);
    assert.equal(consumed, 130);
  });

  it('reads several messages, including an empty one', () => {
    const input = Buffer.concat([hex('00'), hex('0e'), Buffer.from('Hello,\r\nWorld!')]);
    const { payloads, consumed } = parseBinaryMessages(input);
    assert.deepEqual(
      payloads.map((p) => Buffer.from(p).toString()),
      ['', 'Hello,\r\nWorld!'],
    );
    assert.equal(consumed, input.length);
  });

  for (const partial of ['', '04 ab cd ef', '80', 'ff ff ff ff 07', '09 00 00']) {
    it(`waits for more bytes on a partial frame <${partial}>`, () => {
      assert.deepEqual(parseBinaryMessages(hex(partial)), { payloads: [], consumed: 0 });
    });
  }

  it('consumes whole frames and leaves a partial one', () => {
    const { payloads, consumed } = parseBinaryMessages(hex('02 91 06 03 92 07'));
    assert.deepEqual(payloads, [hex('91 06')]);
    assert.equal(consumed, 3);
  });

  for (const prefix of ['ff ff ff ff ff', '80 80 80 80 08', 'ff ff ff ff ff ff']) {
    it(`rejects the prefix <${prefix}> as over 2 GB`, () => {
      assertProtocolError(
        () => parseBinaryMessages(hex(prefix)),
        'SB_ERR_PROTOCOL_INVALID_FRAMING',
        OVER_2GB,
        'FormatException',
      );
    });
  }

  describe('maximum message size (the prefix counts)', () => {
    const tooLarge =
      'The maximum message size of 4B was exceeded. The message size can be configured in AddHubOptions.';

    it('accepts a frame exactly at the limit', () => {
      assert.equal(parseBinaryMessages(hex('03 93 07 c0'), 4).payloads.length, 1);
    });

    it('rejects a frame over the limit as soon as its prefix is read', () => {
      assertProtocolError(
        () => parseBinaryMessages(hex('04'), 4),
        'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE',
        tooLarge,
      );
      assertProtocolError(
        () => parseBinaryMessages(hex('02 91 06 80 01'), 4),
        'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE',
        tooLarge,
      );
    });
  });
});
