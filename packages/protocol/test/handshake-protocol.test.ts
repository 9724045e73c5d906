import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseHandshakeRequest,
  parseHandshakeResponse,
  writeHandshakeRequest,
  writeHandshakeResponse,
} from '@switchboard/protocol';
import { assertProtocolError } from './helpers.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const INVALID = 'SB_ERR_PROTOCOL_INVALID_HANDSHAKE';

describe('handshake request', () => {
  const valid: Array<[string, string, number]> = [
    ['{"protocol":"json","version":1}\u001e', 'json', 1],
    ['{"protocol":"messagepack","version":2}\u001e', 'messagepack', 2],
    ['{"protocol":"","version":10}\u001e', '', 10],
    ['{"protocol":"","version":10,"unknown":null}\u001e', '', 10],
    ['{"version":1,"protocol":"dummy","ignoredField":{"a":[1]}}\u001e', 'dummy', 1],
    // Repeated properties keep the last value, as the reference's forward reader does.
    [
      '{"protocol":"firstProtocol","protocol":"secondProtocol","version":1,"version":75}\u001e',
      'secondProtocol',
      75,
    ],
    ['{"\\u0070rotoco\\u006c":"\\u0064ummy","version":1}\u001e', 'dummy', 1],
    [' { "protocol" : "json" , "version" : 1 } \u001e', 'json', 1],
  ];
  for (const [input, protocol, version] of valid) {
    it(`parses ${JSON.stringify(input)}`, () => {
      assert.deepEqual(parseHandshakeRequest(bytes(input)), {
        request: { protocol, version },
        consumed: Buffer.byteLength(input),
      });
    });
  }

  it('returns null until the separator arrives, then reports the bytes used', () => {
    const whole = bytes('{"protocol":"json","version":1}\u001e{"type":6}\u001e');
    assert.equal(parseHandshakeRequest(whole.subarray(0, 10)), null);
    assert.equal(parseHandshakeRequest(whole.subarray(0, 31)), null);
    const parsed = parseHandshakeRequest(whole);
    assert.equal(parsed?.consumed, 32);
    assert.equal(whole.subarray(parsed?.consumed).toString(), '{"type":6}\u001e');
  });

  it('counts toward the maximum message size', () => {
    const input = bytes('{"protocol":"json","version":1}\u001e'); // 32 bytes with the separator
    assert.ok(parseHandshakeRequest(input, 32));
    const message =
      'The maximum message size of 31B was exceeded while parsing the Handshake. The message size can be configured in AddHubOptions.';
    assertProtocolError(() => parseHandshakeRequest(input, 31), 'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE', message);
    // No separator yet: wait while at most maxSize bytes are buffered, fail past that.
    assert.equal(parseHandshakeRequest(input.subarray(0, 31), 31), null);
    assertProtocolError(
      () => parseHandshakeRequest(bytes('{"protocol":"json",'), 10),
      'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE',
      message.replace('31B', '10B'),
    );
  });

  const invalid: Array<[string, string, string?]> = [
    ['42', "Unexpected JSON Token Type 'Number'. Expected a JSON Object."],
    ['"42"', "Unexpected JSON Token Type 'String'. Expected a JSON Object."],
    ['null', "Unexpected JSON Token Type 'Null'. Expected a JSON Object."],
    ['[]', "Unexpected JSON Token Type 'Array'. Expected a JSON Object."],
    ['false', "Unexpected JSON Token Type 'False'. Expected a JSON Object."],
    ['{}', "Missing required property 'protocol'. Message content: {}"],
    ['{"protocol":"json"}', `Missing required property 'version'. Message content: {"protocol":"json"}`],
    ['{"version":1}', `Missing required property 'protocol'. Message content: {"version":1}`],
    [
      '{"protocol":"json","version":null}',
      `Missing required property 'version'. Message content: {"protocol":"json","version":null}`,
    ],
    [
      '{"type":4,"invocationId":"42","target":"foo","arguments":{}}',
      `Missing required property 'protocol'. Message content: {"type":4,"invocationId":"42","target":"foo","arguments":{}}`,
    ],
    ['{"version":"123"}', "Expected 'version' to be of type Number."],
    ['{"protocol":"json","version":true}', "Expected 'version' to be of type Number."],
    [
      '{"protocol":"json","version":1.5}',
      'Either the JSON value is not in a supported format, or is out of bounds for an Int32.',
      'FormatException',
    ],
    [
      '{"protocol":"json","version":2147483648}',
      'Either the JSON value is not in a supported format, or is out of bounds for an Int32.',
      'FormatException',
    ],
    ['{"protocol":null,"version":123}', "Expected 'protocol' to be of type String."],
    ['{"protocol":1,"version":1}', "Expected 'protocol' to be of type String."],
    ['{"protocol":"json","version":1', 'Error reading JSON.'],
    ['', 'Error reading JSON.'],
    ['{protocol:"json",version:1}', 'Error reading JSON.'],
  ];
  for (const [payload, message, exceptionType] of invalid) {
    it(`rejects ${JSON.stringify(payload)}`, () => {
      assertProtocolError(
        () => parseHandshakeRequest(bytes(`${payload}\u001e`)),
        INVALID,
        message,
        exceptionType ?? 'InvalidDataException',
      );
    });
  }

  it('rejects invalid UTF-8 as unreadable JSON', () => {
    const input = Buffer.concat([bytes('{"protocol":"'), Buffer.from([0xff]), bytes('","version":1}\u001e')]);
    assertProtocolError(() => parseHandshakeRequest(input), INVALID, 'Error reading JSON.');
  });

  it('writes a request as the clients do', () => {
    assert.equal(writeHandshakeRequest('json', 1).toString(), '{"protocol":"json","version":1}\u001e');
    assert.equal(
      writeHandshakeRequest('messagepack', 2).toString(),
      '{"protocol":"messagepack","version":2}\u001e',
    );
  });
});

describe('handshake response', () => {
  it('writes success as 7B 7D 1E', () => {
    assert.deepEqual(writeHandshakeResponse(), Buffer.from([0x7b, 0x7d, 0x1e]));
    assert.deepEqual(writeHandshakeResponse(''), Buffer.from([0x7b, 0x7d, 0x1e]));
  });

  it('returns a fresh buffer each time', () => {
    const first = writeHandshakeResponse();
    first[0] = 0;
    assert.equal(writeHandshakeResponse()[0], 0x7b);
  });

  it('writes an error, escaped as JSON', () => {
    assert.equal(
      writeHandshakeResponse("The protocol 'foo' is not supported.").toString(),
      `{"error":"The protocol 'foo' is not supported."}\u001e`,
    );
    assert.equal(writeHandshakeResponse('a"b\u001e').toString(), '{"error":"a\\"b\\u001e"}\u001e');
  });

  const valid: Array<[string, string | undefined]> = [
    ['{"error":"dummy"}\u001e', 'dummy'],
    ['{"error":""}\u001e', ''],
    ['{}\u001e', undefined],
    ['{"unknown":null}\u001e', undefined],
  ];
  for (const [input, error] of valid) {
    it(`parses ${JSON.stringify(input)}`, () => {
      const expected = error === undefined ? {} : { error };
      assert.deepEqual(parseHandshakeResponse(bytes(input)), {
        response: expected,
        consumed: bytes(input).length,
      });
    });
  }

  it('returns null without a separator and leaves following hub messages', () => {
    assert.equal(parseHandshakeResponse(bytes('{}')), null);
    assert.equal(parseHandshakeResponse(bytes('{}\u001e{"type":6}\u001e'))?.consumed, 3);
  });

  const invalid: Array<[string, string]> = [
    ['42', "Unexpected JSON Token Type 'Number'. Expected a JSON Object."],
    ['"42"', "Unexpected JSON Token Type 'String'. Expected a JSON Object."],
    ['null', "Unexpected JSON Token Type 'Null'. Expected a JSON Object."],
    ['[]', "Unexpected JSON Token Type 'Array'. Expected a JSON Object."],
    ['{"error":null}', "Expected 'error' to be of type String."],
    ['{"type":6}', 'Expected a handshake response from the server.'],
  ];
  for (const [payload, message] of invalid) {
    it(`rejects ${JSON.stringify(payload)}`, () => {
      assertProtocolError(() => parseHandshakeResponse(bytes(`${payload}\u001e`)), INVALID, message);
    });
  }
});
