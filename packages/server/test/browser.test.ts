import assert from 'node:assert/strict';
import test from 'node:test';
import { Hub } from '@switchboard/server';
import {
  CHROMIUM_PATH,
  launchChromium,
  requireService,
  serveBrowserAssets,
  startTestServer,
} from '@switchboard/testkit';

class BrowserHub extends Hub {
  echo(value: unknown) {
    return value;
  }
  async broadcast(value: unknown) {
    await this.clients.all.send('broadcast', value);
  }
  transport() {
    return this.context.transport;
  }
}

/** What the page reports back from one scenario. */
interface PageResult {
  echoed: unknown;
  echoedBytes: number[] | null;
  broadcast: unknown;
  transport: string;
  closedWith: string | null;
}

// Runs inside the page with the official browser bundles (window.signalR), as plain JavaScript so
// that no transpiler helper leaks into the page.
const SCENARIO = `async (url, transport, protocol) => {
  let builder = new signalR.HubConnectionBuilder().withUrl(url, { transport: signalR.HttpTransportType[transport] });
  if (protocol === 'messagepack') builder = builder.withHubProtocol(new signalR.protocols.msgpack.MessagePackHubProtocol());
  const connection = builder.configureLogging(signalR.LogLevel.None).build();
  let closedWith = 'not closed';
  const closed = new Promise((resolve) => connection.onclose((error) => { closedWith = error ? String(error) : null; resolve(); }));
  const broadcast = new Promise((resolve) => connection.on('broadcast', resolve));
  await connection.start();
  const value = protocol === 'messagepack' ? { bytes: new Uint8Array([1, 2, 3]), n: 42 } : { text: 'hello', n: 42 };
  const echoed = await connection.invoke('echo', value);
  await connection.invoke('broadcast', 'to everyone');
  const received = await broadcast;
  const usedTransport = await connection.invoke('transport');
  await connection.stop();
  await closed;
  const echoedBytes = echoed && echoed.bytes instanceof Uint8Array ? Array.from(echoed.bytes) : null;
  return { echoed, echoedBytes, broadcast: received, transport: usedTransport, closedWith };
}`;

// The official matrix (docs/protocol.md#conformance): every transport with JSON, WebSockets and long
// polling with MessagePack (Server-Sent Events carry text only).
const CASES: [transport: string, protocol: 'json' | 'messagepack'][] = [
  ['WebSockets', 'json'],
  ['ServerSentEvents', 'json'],
  ['LongPolling', 'json'],
  ['WebSockets', 'messagepack'],
  ['LongPolling', 'messagepack'],
];

test('the official browser client works in Chromium', async (t) => {
  if (!(await requireService(t, { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH }))) return;
  const server = await startTestServer((hubs) => hubs.mapHub('/browser', BrowserHub), {}, serveBrowserAssets);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto(server.baseUrl);
    for (const [transport, protocol] of CASES) {
      await t.test(`${transport} with ${protocol}`, async () => {
        const args = [`${server.baseUrl}/browser`, transport, protocol]
          .map((a) => JSON.stringify(a))
          .join(', ');
        const result = (await page.evaluate(`(${SCENARIO})(${args})`)) as PageResult;
        assert.equal(result.transport, transport);
        assert.equal(result.broadcast, 'to everyone');
        assert.equal(result.closedWith, null);
        if (protocol === 'messagepack') {
          // Bytes travel as MessagePack bin and come back as a Uint8Array.
          assert.deepEqual(result.echoedBytes, [1, 2, 3]);
          assert.equal((result.echoed as { n: number }).n, 42);
        } else {
          assert.deepEqual(result.echoed, { text: 'hello', n: 42 });
        }
      });
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
