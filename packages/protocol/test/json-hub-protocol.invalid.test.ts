// Malformed JSON hub messages: each one must fail with its own code and the reference's text
// (JsonHubProtocolTestsBase.InvalidMessages in dotnet/aspnetcore, extended to every check we make).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonHubProtocol, MessageType } from '@switchboard/protocol';
import { assertProtocolError, frameText } from './helpers.js';

const INVALID = 'SB_ERR_PROTOCOL_INVALID_MESSAGE';
const INT32_FORMAT = 'Either the JSON value is not in a supported format, or is out of bounds for an Int32.';
const INT64_FORMAT = 'Either the JSON value is not in a supported format, or is out of bounds for an Int64.';

/** Input JSON (framed by the test), expected message, and the .NET exception type when not InvalidData. */
const cases: Array<[string, string, string?]> = [
  // Not a JSON object, or not JSON at all
  ['null', "Unexpected JSON Token Type 'Null'. Expected a JSON Object."],
  ['"foo"', "Unexpected JSON Token Type 'String'. Expected a JSON Object."],
  ['[42]', "Unexpected JSON Token Type 'Array'. Expected a JSON Object."],
  ['42', "Unexpected JSON Token Type 'Number'. Expected a JSON Object."],
  ['true', "Unexpected JSON Token Type 'True'. Expected a JSON Object."],
  ['', 'Error reading JSON.'],
  ['{"type":1,', 'Error reading JSON.'],
  ['{"type":1,"target":"foo","arguments":[[}]}', 'Error reading JSON.'],
  ["{'type':1}", 'Error reading JSON.'],
  ['{"type":6} {"type":6}', 'Error reading JSON.'],

  // type
  ['{}', "Missing required property 'type'."],
  ['{"target":"foo","arguments":[]}', "Missing required property 'type'."],
  ['{"type":"1"}', "Expected 'type' to be of type Number."],
  ['{"type":null}', "Expected 'type' to be of type Number."],
  ['{"type":1.5}', INT32_FORMAT, 'FormatException'],
  ['{"type":4294967297}', INT32_FORMAT, 'FormatException'],

  // headers
  [
    '{"type":1,"headers":{"Foo": 42},"target":"test","arguments":[]}',
    "Expected header 'Foo' to be of type String.",
  ],
  [
    '{"type":1,"headers":{"Foo": true},"target":"test","arguments":[]}',
    "Expected header 'Foo' to be of type String.",
  ],
  [
    '{"type":1,"headers":{"Foo": null},"target":"test","arguments":[]}',
    "Expected header 'Foo' to be of type String.",
  ],
  [
    '{"type":1,"headers":{"Foo": []},"target":"test","arguments":[]}',
    "Expected header 'Foo' to be of type String.",
  ],
  ['{"type":1,"headers":[],"target":"test","arguments":[]}', "Expected 'headers' to be of type StartObject."],
  [
    '{"type":1,"headers":"Foo","target":"test","arguments":[]}',
    "Expected 'headers' to be of type StartObject.",
  ],

  // Invocation
  ['{"type":1}', "Missing required property 'target'."],
  ['{"type":1,"invocationId":42}', "Expected 'invocationId' to be of type String."],
  [
    '{"type":1,"invocationId":null,"target":"foo","arguments":[]}',
    "Expected 'invocationId' to be of type String.",
  ],
  ['{"type":1,"invocationId":"42"}', "Missing required property 'target'."],
  ['{"type":1,"invocationId":"42","target":42}', "Expected 'target' to be of type String."],
  ['{"type":1,"invocationId":"42","target":"","arguments":[]}', "Missing required property 'target'."],
  ['{"type":1,"invocationId":"42","target":"foo"}', "Missing required property 'arguments'."],
  [
    '{"type":1,"invocationId":"42","target":"foo","arguments":{}}',
    "Expected 'arguments' to be of type Array.",
  ],
  [
    '{"type":1,"invocationId":"42","target":"foo","arguments":null}',
    "Expected 'arguments' to be of type Array.",
  ],
  ['{"type":1,"target":"foo","arguments":[],"streamIds":"1"}', "Expected 'streamIds' to be of type Array."],
  ['{"type":1,"target":"foo","arguments":[],"streamIds":[null]}', "Null value for 'streamIds' is not valid."],
  [
    '{"type":1,"target":"foo","arguments":[],"streamIds":[1]}',
    "Cannot get the value of a token type 'Number' as a string.",
    'InvalidOperationException',
  ],

  // StreamItem
  ['{"type":2}', "Missing required property 'invocationId'."],
  ['{"type":2,"invocationId":42}', "Expected 'invocationId' to be of type String."],
  ['{"type":2,"invocationId":"42"}', "Missing required property 'item'."],
  ['{"type":2,"invocationId":"","item":1}', "Missing required property 'invocationId'."],

  // Completion
  ['{"type":3}', "Missing required property 'invocationId'."],
  ['{"type":3,"invocationId":42}', "Expected 'invocationId' to be of type String."],
  ['{"type":3,"invocationId":""}', "Missing required property 'invocationId'."],
  ['{"type":3,"invocationId":"42","error":[]}', "Expected 'error' to be of type String."],
  [
    '{"type":3,"invocationId":"42","error":"foo","result":true}',
    "The 'error' and 'result' properties are mutually exclusive.",
  ],
  [
    '{"type":3,"invocationId":"42","result":null,"error":""}',
    "The 'error' and 'result' properties are mutually exclusive.",
  ],

  // StreamInvocation
  ['{"type":4}', "Missing required property 'target'."],
  ['{"type":4,"invocationId":42}', "Expected 'invocationId' to be of type String."],
  ['{"type":4,"target":"foo","arguments":[]}', "Missing required property 'invocationId'."],
  ['{"type":4,"invocationId":"","target":"foo","arguments":[]}', "Missing required property 'invocationId'."],
  ['{"type":4,"invocationId":"42","target":42}', "Expected 'target' to be of type String."],
  ['{"type":4,"invocationId":"42","target":"foo"}', "Missing required property 'arguments'."],
  ['{"type":4,"invocationId":"42","target":"","arguments":[]}', "Missing required property 'target'."],
  [
    '{"type":4,"invocationId":"42","target":"foo","arguments":{}}',
    "Expected 'arguments' to be of type Array.",
  ],

  // CancelInvocation
  ['{"type":5}', "Missing required property 'invocationId'."],
  ['{"type":5,"invocationId":""}', "Missing required property 'invocationId'."],

  // Close
  ['{"type":7,"error":42}', "Expected 'error' to be of type String."],
  ['{"type":7,"allowReconnect":"true"}', "Expected 'allowReconnect' to be true or false."],
  ['{"type":7,"allowReconnect":null}', "Expected 'allowReconnect' to be true or false."],

  // Ack and Sequence
  ['{"type":8}', "Missing required property 'sequenceId'."],
  ['{"type":8,"sequenceId":null}', "Missing required property 'sequenceId'."],
  ['{"type":8,"sequenceId":"1"}', "Expected 'sequenceId' to be of type Number."],
  ['{"type":9}', "Missing required property 'sequenceId'."],
  ['{"type":9,"sequenceId":1.5}', INT64_FORMAT, 'FormatException'],
  ['{"type":9,"sequenceId":9007199254740993}', INT64_FORMAT, 'FormatException'],

  // A known property is type-checked even on a type that does not use it, as in the reference.
  ['{"type":6,"target":1}', "Expected 'target' to be of type String."],
  ['{"type":99,"invocationId":1}', "Expected 'invocationId' to be of type String."],
];

describe('JsonHubProtocol rejects malformed messages', () => {
  for (const [json, message, exceptionType] of cases) {
    it(`${JSON.stringify(json)} → ${message}`, () => {
      // The same error whether the caller has validated the UTF-8 (text WebSocket messages) or not.
      for (const utf8Validated of [false, true]) {
        assertProtocolError(
          () => jsonHubProtocol.parseMessages(frameText(json), { utf8Validated }),
          INVALID,
          message,
          exceptionType ?? 'InvalidDataException',
        );
      }
    });
  }

  it('rejects invalid UTF-8 rather than substituting U+FFFD', () => {
    const input = Buffer.concat([
      Buffer.from('{"type":1,"target":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('","arguments":[]}\u001e'),
    ]);
    assertProtocolError(() => jsonHubProtocol.parseMessages(input), INVALID, 'Error reading JSON.');
  });

  it('keeps the cause of a JSON syntax error', () => {
    assert.throws(
      () => jsonHubProtocol.parseMessages(frameText('{')),
      (error: unknown) => error instanceof Error && error.cause instanceof SyntaxError,
    );
  });

  it('fails the whole buffer when a later message is malformed', () => {
    assertProtocolError(
      () => jsonHubProtocol.parseMessages(frameText('{"type":6}', '{"type":2}')),
      INVALID,
      "Missing required property 'invocationId'.",
    );
  });

  it('still accepts the message types it does not check', () => {
    assert.deepEqual(jsonHubProtocol.parseMessages(frameText('{"type":6,"anything":[1]}')).messages, [
      { type: MessageType.Ping },
    ]);
  });
});
