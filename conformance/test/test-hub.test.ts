// Every TestHub method that exists today, through the official client over WebSockets with JSON
// and MessagePack, against the in-process conformance server (docs/protocol.md#conformance).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import type { ConformanceServer } from '@switchboard/conformance';
import { deferred } from '@switchboard/testkit';
import { connect, startQuietServer, stopAll } from './helpers.ts';

let server: ConformanceServer;
let json: HubConnection;
let msgpack: HubConnection;

before(async () => {
  server = await startQuietServer();
  json = await connect(server, '/testhub', { headers: { 'X-HEADER': 'VALUE' } });
  msgpack = await connect(server, '/testhub', { protocol: new MessagePackHubProtocol() });
});

after(async () => {
  await stopAll([json, msgpack]);
  await server.close();
});

test('Echo returns its argument, with either protocol', async () => {
  const message = '你好，世界！';
  assert.equal(await json.invoke('Echo', message), message);
  assert.equal(await msgpack.invoke('echo', message), message);
});

test('GetCallerConnectionId is the connectionId the client knows, not the token', async () => {
  const id = await json.invoke('GetCallerConnectionId');
  assert.equal(typeof id, 'string');
  assert.equal(id, json.connectionId);
  assert.notEqual(await msgpack.invoke('GetCallerConnectionId'), id);
});

test('GetNumRedirects is 0 without a numRedirects query value', async () => {
  assert.equal(await json.invoke('GetNumRedirects'), 0);
});

test('ThrowException gives the detailed InvalidOperationException text', async () => {
  await assert.rejects(json.invoke('ThrowException', 'An error occurred.'), {
    message:
      "An unexpected error occurred invoking 'ThrowException' on the server. InvalidOperationException: An error occurred.",
  });
  await assert.rejects(msgpack.invoke('ThrowException', 'boom'), {
    message:
      "An unexpected error occurred invoking 'ThrowException' on the server. InvalidOperationException: boom",
  });
});

test('InvokeWithString sends the caller Message(msg), whatever the casing of the handler', async () => {
  const got = deferred<string>();
  const handler = (m: string) => got.resolve(m);
  json.on('mEssAGe', handler);
  try {
    await json.invoke('InvokeWithString', 'hello');
    assert.equal(await got.promise, 'hello');
  } finally {
    json.off('mEssAGe', handler);
  }
});

test('SendCustomObject sends the caller CustomObject(obj)', async () => {
  const got = deferred<unknown>();
  const handler = (o: unknown) => got.resolve(o);
  json.on('CustomObject', handler);
  try {
    await json.invoke('SendCustomObject', { Name: 'test', Value: 42 });
    assert.deepEqual(await got.promise, { Name: 'test', Value: 42 });
  } finally {
    json.off('CustomObject', handler);
  }
});

test('GetActiveTransportName is WebSockets', async () => {
  assert.equal(await json.invoke('GetActiveTransportName'), 'WebSockets');
  assert.equal(await msgpack.invoke('GetActiveTransportName'), 'WebSockets');
});

test('EchoComplexObject returns the object unchanged (JSON and MessagePack forms)', async () => {
  const jsonObject = {
    ByteArray: 'aGVsbG8=',
    DateTime: '2002-04-01T10:20:15Z',
    Guid: '00010203-0405-0607-0706-050403020100',
    IntArray: [1, 2, 3, 255],
    String: 'Hello, World!',
  };
  assert.deepEqual(await json.invoke('EchoComplexObject', jsonObject), jsonObject);
  const binaryObject = {
    ...jsonObject,
    ByteArray: new Uint8Array([0x68, 0x65, 0x6c, 0x6c, 0x6f]),
    DateTime: new Date(Date.UTC(2002, 3, 1, 10, 20, 15)),
  };
  const echoed = await msgpack.invoke('EchoComplexObject', binaryObject);
  assert.deepEqual({ ...echoed, ByteArray: new Uint8Array(echoed.ByteArray) }, binaryObject);
});

test('SendComplexObject returns the fixed object in each protocol form', async () => {
  const common = {
    Guid: '00010203-0405-0607-0706-050403020100',
    IntArray: [1, 2, 3],
    String: 'hello world',
  };
  assert.deepEqual(await json.invoke('SendComplexObject'), {
    ...common,
    ByteArray: 'AQID',
    DateTime: '2000-01-01T00:00:00Z',
  });
  const binary = await msgpack.invoke('SendComplexObject');
  assert.deepEqual(
    { ...binary, ByteArray: new Uint8Array(binary.ByteArray) },
    { ...common, ByteArray: new Uint8Array([1, 2, 3]), DateTime: new Date(Date.UTC(2000, 0, 1)) },
  );
});

test('GetContentTypeHeader is null over WebSockets (the upgrade has none)', async () => {
  assert.equal(await json.invoke('GetContentTypeHeader'), null);
});

test('GetHeader sees the Node client user agent and custom headers; unknown headers are null', async () => {
  assert.match(await json.invoke('GetHeader', 'User-Agent'), /^Microsoft SignalR\/\d+\.\d+ \(.*NodeJS/);
  assert.equal(await json.invoke('GetHeader', 'X-HEADER'), 'VALUE');
  assert.equal(await json.invoke('GetHeader', 'x-header'), 'VALUE');
  assert.equal(await json.invoke('GetHeader', 'X-Not-There'), null);
  assert.equal(await msgpack.invoke('GetHeader', 'X-HEADER'), null);
});

test('GetCookie sees the cookies negotiate set, and not the expired one', async () => {
  assert.equal(await json.invoke('GetCookie', 'testCookie'), 'testValue');
  assert.equal(await json.invoke('GetCookie', 'testCookie2'), 'testValue2');
  assert.equal(await json.invoke('GetCookie', 'expiredCookie'), null);
  assert.equal(await json.invoke('GetCookie', 'nope'), null);
});

test('GetUserIdentifier is null for an anonymous connection', async () => {
  assert.equal(await json.invoke('GetUserIdentifier'), null);
});

test('an unknown method is refused plainly', async () => {
  await assert.rejects(json.invoke('NoSuchMethod'), /Method does not exist/);
});

test('AddConnectionToGroup and RemoveConnectionFromGroup refuse a null connection id or group with an error', async () => {
  await assert.rejects(json.invoke('AddConnectionToGroup', null, 'team'), /Parameter 'connectionId'/);
  await assert.rejects(msgpack.invoke('RemoveConnectionFromGroup', null, 'team'), /Parameter 'connectionId'/);
  await assert.rejects(json.invoke('AddConnectionToGroup', json.connectionId, null), /Parameter 'groupName'/);
  // The connection still serves, and a valid call goes through.
  await json.invoke('AddConnectionToGroup', json.connectionId, 'team');
  const got = deferred<unknown>();
  json.on('Send', (x) => got.resolve(x));
  await msgpack.invoke('SendToGroup', 'team', 'to the team');
  assert.equal(await got.promise, 'to the team');
});
