import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessagePackHubProtocol as OfficialProtocol } from '@microsoft/signalr-protocol-msgpack';
import { messagePackHubProtocol } from '@switchboard/protocol';
// @ts-expect-error plain ESM module without types
import { candidates, workloads } from '../codec/candidates.mjs';

const official = new OfficialProtocol();
const edge = {
  big: 2 ** 40 + 7,
  neg: -123456,
  negBig: -(2 ** 35),
  float: 3.25,
  nil: null,
  nested: { a: { b: [1, 'ü', { c: true }] } },
  bin: new Uint8Array([0, 1, 254, 255]),
  text: 'héllo 世界 👋',
};
const arrays: Record<string, unknown[]> = {
  ...Object.fromEntries(Object.entries(workloads).map(([k, w]) => [k, (w as { array: unknown[] }).array])),
  edge: [1, {}, null, 'edge', [edge], []],
};

/** Frames a MessagePack body with the varint length prefix (docs/protocol.md#binary-framing). */
function frame(body: Uint8Array): Uint8Array {
  const len: number[] = [];
  let n = body.length;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n > 0) b |= 0x80;
    len.push(b);
  } while (n > 0);
  return Buffer.concat([Buffer.from(len), body]);
}

for (const [name, codec] of Object.entries(
  candidates as Record<string, { encode(v: unknown): Uint8Array; decode(b: Uint8Array): unknown }>,
)) {
  test(`${name}: bytes parse with the official client and with our protocol alike`, () => {
    for (const [wl, array] of Object.entries(arrays)) {
      const bytes = frame(Uint8Array.from(codec.encode(array)));
      const theirs = official.parseMessages(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer,
        { log() {} } as never,
      );
      const ours = messagePackHubProtocol.parseMessages(bytes).messages;
      assert.equal(theirs.length, 1, wl);
      assert.equal(ours.length, 1, wl);
      const args = (m: unknown) =>
        (m as { arguments?: unknown[]; result?: unknown }).arguments ?? (m as { result?: unknown }).result;
      assert.deepEqual(normal(args(ours[0])), normal(args(theirs[0])), wl);
      // The candidate decodes its own bytes back to the array.
      assert.deepEqual(normal(codec.decode(codec.encode(array))), normal(array), wl);
    }
  });
}

/** Compares binary as plain byte arrays (Buffer vs Uint8Array). */
function normal(v: unknown): unknown {
  if (v instanceof Uint8Array) return [...v];
  if (Array.isArray(v)) return v.map(normal);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normal(x)]));
  return v;
}
