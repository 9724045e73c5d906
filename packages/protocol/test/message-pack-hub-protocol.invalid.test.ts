// Malformed MessagePack hub messages: each one must fail with its own code and the reference's text
// (MessagePackHubProtocolTestBase.BaseInvalidPayloads in dotnet/aspnetcore). Unlike the reference's
// fixtures, ours declare array and map lengths that match their content, because we read only the
// declared elements: a missing element fails exactly like a mistyped one.
import { describe, it } from 'node:test';
import { messagePackHubProtocol as protocol } from '@switchboard/protocol';
import { assertProtocolError, frameBinary, hex } from './helpers.js';

const INVALID = 'SB_ERR_PROTOCOL_INVALID_MESSAGE';
const argumentFailure = "Deserializing object of the `Object` type for 'argument' failed.";

/** A name, the unframed body (hex; 'abc', 'xyz' and 'foo' are 3-byte fixstr), and the expected message. */
const cases: Array<[string, string, string]> = [
  // The envelope
  ['body not an array', '2a', "Reading array length for 'message' failed."],
  ['empty array', '90', "Reading 'messageType' as Int32 failed."],
  ['type is a string', '91 a3 66 6f 6f', "Reading 'messageType' as Int32 failed."],
  ['type is nil', '91 c0', "Reading 'messageType' as Int32 failed."],
  ['type beyond Int32', '91 ce 80 00 00 00', "Reading 'messageType' as Int32 failed."],

  // Headers
  ['headers missing', '91 01', "Reading map length for 'headers' failed."],
  ['headers not a map', '92 01 a3 66 6f 6f', "Reading map length for 'headers' failed."],
  ['headers nil', '92 01 c0', "Reading map length for 'headers' failed."],
  ['header key int', '92 01 81 2a a3 66 6f 6f', "Reading 'headers[0].Key' as String failed."],
  ['header value int', '92 01 81 a3 66 6f 6f 2a', "Reading 'headers[0].Value' as String failed."],
  [
    'second header key array',
    '92 01 82 a3 66 6f 6f a3 66 6f 6f 90 a3 66 6f 6f',
    "Reading 'headers[1].Key' as String failed.",
  ],
  [
    'second header value array',
    '92 01 82 a3 66 6f 6f a3 66 6f 6f a3 62 61 72 90',
    "Reading 'headers[1].Value' as String failed.",
  ],
  ['header map cut short', '92 01 82 a3 66 6f 6f a3 66 6f 6f', "Reading 'headers[1].Key' as String failed."],
  ['header key empty', '92 01 81 a0 a3 66 6f 6f', 'Null or empty key in header.'],
  ['header key nil', '92 01 81 c0 a3 66 6f 6f', 'Null or empty key in header.'],
  ['header value empty', '92 01 81 a3 66 6f 6f a0', 'Null or empty value in header.'],
  ['header value nil', '92 01 81 a3 66 6f 6f c0', 'Null or empty value in header.'],

  // Invocation
  ['Invocation id missing', '92 01 80', "Reading 'invocationId' as String failed."],
  ['Invocation id boolean', '93 01 80 c2', "Reading 'invocationId' as String failed."],
  ['Invocation target missing', '93 01 80 a3 61 62 63', "Reading 'target' as String failed."],
  ['Invocation target int', '94 01 80 a3 61 62 63 2a', "Reading 'target' as String failed."],
  ['Invocation target empty', '94 01 80 a3 61 62 63 a0', 'Null or empty target for Invocation message.'],
  ['Invocation target nil', '94 01 80 c0 c0', 'Null or empty target for Invocation message.'],
  ['Invocation arguments missing', '94 01 80 c0 a1 54', "Reading array length for 'arguments' failed."],
  [
    'Invocation arguments not an array',
    '95 01 80 c0 a1 54 2a',
    "Reading array length for 'arguments' failed.",
  ],
  ['Invocation arguments nil', '95 01 80 c0 a1 54 c0', "Reading array length for 'arguments' failed."],
  ['Invocation arguments cut short', '95 01 80 c0 a1 54 92 01', argumentFailure],
  ['Invocation argument uses code C1', '95 01 80 c0 a1 54 91 c1', argumentFailure],
  [
    'Invocation argument map with a "__proto__" key',
    '95 01 80 c0 a1 54 91 81 a9 5f 5f 70 72 6f 74 6f 5f 5f 01',
    argumentFailure,
  ],
  [
    'Invocation argument with a bad timestamp size',
    '95 01 80 c0 a1 54 91 c7 03 ff 01 02 03',
    argumentFailure,
  ],
  [
    'Invocation stream ids not an array',
    '96 01 80 c0 a1 54 90 2a',
    "Reading array length for 'streamIds' failed.",
  ],
  ['Invocation stream id int', '96 01 80 c0 a1 54 90 91 2a', "Reading 'streamIds[0]' as String failed."],
  [
    'Invocation stream id empty',
    '96 01 80 a3 61 62 63 a1 54 91 a0 91 a0',
    'Null or empty value in streamIds received.',
  ],
  ['Invocation stream id nil', '96 01 80 c0 a1 54 90 91 c0', 'Null or empty value in streamIds received.'],

  // StreamInvocation
  ['StreamInvocation id missing', '92 04 80', "Reading 'invocationId' as String failed."],
  ['StreamInvocation id empty', '93 04 80 a0', 'Null or empty invocation ID for StreamInvocation message.'],
  ['StreamInvocation id nil', '93 04 80 c0', 'Null or empty invocation ID for StreamInvocation message.'],
  ['StreamInvocation id boolean', '93 04 80 c2', "Reading 'invocationId' as String failed."],
  ['StreamInvocation target missing', '93 04 80 a3 61 62 63', "Reading 'target' as String failed."],
  ['StreamInvocation target int', '94 04 80 a3 61 62 63 2a', "Reading 'target' as String failed."],
  [
    'StreamInvocation target empty',
    '94 04 80 a3 61 62 63 a0',
    'Null or empty target for StreamInvocation message.',
  ],
  [
    'StreamInvocation arguments not an array',
    '95 04 80 a3 61 62 63 a3 78 79 7a 2a',
    "Reading array length for 'arguments' failed.",
  ],

  // StreamItem
  ['StreamItem id missing', '92 02 80', "Reading 'invocationId' as String failed."],
  ['StreamItem id empty', '93 02 80 a0', 'Null or empty invocation ID for StreamItem message.'],
  ['StreamItem id boolean', '93 02 80 c2', "Reading 'invocationId' as String failed."],
  [
    'StreamItem item missing',
    '93 02 80 a3 78 79 7a',
    "Deserializing object of the `Object` type for 'item' failed.",
  ],

  // Completion
  ['Completion id missing', '92 03 80', "Reading 'invocationId' as String failed."],
  ['Completion id empty', '93 03 80 a0', 'Null or empty invocation ID for Completion message.'],
  ['Completion id boolean', '93 03 80 c2', "Reading 'invocationId' as String failed."],
  ['Completion result kind missing', '93 03 80 a3 78 79 7a', "Reading 'resultKind' as Int32 failed."],
  [
    'Completion result kind string',
    '94 03 80 a3 78 79 7a a3 78 79 7a',
    "Reading 'resultKind' as Int32 failed.",
  ],
  ['Completion result kind out of range', '94 03 80 a3 78 79 7a 2a', 'Invalid invocation result kind.'],
  ['Completion error missing', '94 03 80 a3 78 79 7a 01', "Reading 'error' as String failed."],
  ['Completion error int', '95 03 80 a3 78 79 7a 01 2a', "Reading 'error' as String failed."],
  ['Completion result missing', '94 03 80 a3 78 79 7a 03', argumentFailure],

  // CancelInvocation
  ['CancelInvocation id missing', '92 05 80', "Reading 'invocationId' as String failed."],
  ['CancelInvocation id empty', '93 05 80 a0', 'Null or empty invocation ID for CancelInvocation message.'],

  // Close
  ['Close error missing', '91 07', "Reading 'error' as String failed."],
  ['Close error int', '92 07 2a', "Reading 'error' as String failed."],
  ['Close allowReconnect nil', '93 07 c0 c0', "Reading 'allowReconnect' as Boolean failed."],
  ['Close allowReconnect int', '93 07 c0 01', "Reading 'allowReconnect' as Boolean failed."],

  // Ack and Sequence
  ['Ack sequence id missing', '91 08', "Reading 'sequenceId' as Int64 failed."],
  ['Ack sequence id nil', '92 08 c0', "Reading 'sequenceId' as Int64 failed."],
  ['Ack sequence id string', '92 08 a1 31', "Reading 'sequenceId' as Int64 failed."],
  ['Ack sequence id float', '92 08 cb 3f f8 00 00 00 00 00 00', "Reading 'sequenceId' as Int64 failed."],
  [
    'Ack sequence id beyond 2^53',
    '92 08 cf 00 20 00 00 00 00 00 01',
    "Reading 'sequenceId' as Int64 failed.",
  ],
  ['Sequence sequence id missing', '91 09', "Reading 'sequenceId' as Int64 failed."],
  ['Sequence sequence id nil', '92 09 c0', "Reading 'sequenceId' as Int64 failed."],
];

describe('MessagePackHubProtocol rejects malformed messages', () => {
  for (const [name, body, message] of cases) {
    it(`${name} <${body}> → ${message}`, () => {
      assertProtocolError(
        () => protocol.parseMessages(frameBinary(hex(body))),
        INVALID,
        message,
        'InvalidDataException',
      );
    });
  }

  it('rejects an empty frame', () => {
    assertProtocolError(
      () => protocol.parseMessages(hex('00')),
      'SB_ERR_PROTOCOL_INVALID_FRAMING',
      'Invalid payload.',
    );
  });

  it('rejects a length prefix over 2 GB', () => {
    assertProtocolError(
      () => protocol.parseMessages(hex('ff ff ff ff 08')),
      'SB_ERR_PROTOCOL_INVALID_FRAMING',
      'Messages over 2GB in size are not supported.',
      'FormatException',
    );
  });

  it('fails the whole buffer when a later message is malformed', () => {
    assertProtocolError(
      () => protocol.parseMessages(Buffer.concat([hex('02 91 06'), frameBinary(hex('92 05 80'))])),
      INVALID,
      "Reading 'invocationId' as String failed.",
    );
  });
});
