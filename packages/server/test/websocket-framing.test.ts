// The WebSocket transport writes frames it built itself (one buffer per message, one frame per
// broadcast): the bytes must be exactly what `ws` would have written, at every length boundary of
// RFC 6455 5.2, and the official client must read broadcasts of those sizes intact and in order
// over WebSockets in JSON and MessagePack, while other messages go to single connections between
// them (the one cached broadcast frame must never be written for another message).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { HttpTransportType, type HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { Hub } from '@switchboard/server';
import { connectClient, startTestServer, type TestServer, waitFor } from '@switchboard/testkit';
import { frameMessage } from '../src/http/transports/websocket-transport.ts';

/** `ws`'s frame builder (its typings do not declare the Sender class it exports). */
const { Sender } = createRequire(import.meta.url)('ws') as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] };
};

const LENGTHS = [0, 1, 125, 126, 127, 1000, 65_535, 65_536, 70_000];

function wsFrame(data: Buffer, binary: boolean): Buffer {
  // `ws`'s own framing of an unmasked, final, uncompressed message.
  const parts = Sender.frame(data, {
    fin: true,
    mask: false,
    opcode: binary ? 2 : 1,
    readOnly: false,
    rsv1: false,
  });
  return Buffer.concat(parts);
}

describe('frameMessage', () => {
  for (const binary of [false, true]) {
    test(`${binary ? 'binary' : 'text'} frames are byte for byte what ws writes`, () => {
      for (const length of LENGTHS) {
        const data = Buffer.alloc(length, length % 251);
        assert.deepEqual(frameMessage(data, binary), wsFrame(data, binary), `length ${length}`);
      }
    });
  }
});

class FramingHub extends Hub {
  /** Broadcasts `size` characters, then writes a different message to the caller alone. */
  async burst(size: number, tag: string) {
    await this.clients.all.send('all', tag, 'y'.repeat(size));
    await this.clients.caller.send('one', `${tag}:only-me`);
  }
}

const SIZES = [1, 100, 126, 1000, 65_000, 66_000, 200_000];

for (const protocol of ['json', 'messagepack'] as const) {
  describe(`broadcasts framed once over WebSockets (${protocol})`, () => {
    let server: TestServer;
    const clients: HubConnection[] = [];
    const received: string[][] = [];
    const own: string[][] = [];

    before(async () => {
      server = await startTestServer((hubs) => hubs.mapHub('/framing', FramingHub), {
        maximumReceiveMessageSize: 1024 * 1024,
      });
      for (let i = 0; i < 3; i++) {
        const client = await connectClient(`${server.baseUrl}/framing`, {
          transport: HttpTransportType.WebSockets,
          ...(protocol === 'messagepack' ? { protocol: new MessagePackHubProtocol() } : {}),
        });
        const log: string[] = [];
        const mine: string[] = [];
        client.on('all', (tag: string, text: string) => {
          log.push(`${tag}:${text.length}:${text === 'y'.repeat(text.length)}`);
        });
        client.on('one', (text: string) => mine.push(text));
        clients.push(client);
        received.push(log);
        own.push(mine);
      }
    });

    after(async () => {
      await Promise.all(clients.map((c) => c.stop()));
      await server.close();
    });

    test('every receiver gets every size intact and in order; the caller-only message is its own', async () => {
      for (const [i, size] of SIZES.entries()) await clients[i % 3]!.invoke('burst', size, `m${i}`);
      const expected = SIZES.map((size, i) => `m${i}:${size}:true`);
      await waitFor(() => received.every((log) => log.length === SIZES.length), 10_000, 'all broadcasts');
      for (const log of received) assert.deepEqual(log, expected);
      await waitFor(
        () => own.reduce((n, mine) => n + mine.length, 0) === SIZES.length,
        10_000,
        'caller-only',
      );
      for (const [c, mine] of own.entries()) {
        assert.deepEqual(
          mine,
          SIZES.flatMap((_, i) => (i % 3 === c ? [`m${i}:only-me`] : [])),
        );
      }
    });
  });
}
