// Each example starts on a free port; the official client invokes and receives through the hub,
// and the framework's own route still answers next to it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectClient, deferred } from '@switchboard/testkit';
import { HUB_PATH, type RunningExample } from '../chat-hub.ts';
import { start as startExpress } from '../express.ts';
import { start as startFastify } from '../fastify.ts';
import { start as startPlain } from '../plain-http.ts';

const examples: [string, (port?: number) => Promise<RunningExample>][] = [
  ['plain http', startPlain],
  ['express', startExpress],
  ['fastify', startFastify],
];

for (const [name, start] of examples) {
  test(`${name}: hub invocations and the app's own routes`, async () => {
    const example = await start(0);
    try {
      const health = await fetch(`${example.url}/health`);
      assert.equal(health.status, 200);
      assert.equal(await health.text(), 'ok');

      const client = await connectClient(`${example.url}${HUB_PATH}`);
      try {
        assert.equal(await client.invoke('Echo', 'hello'), 'hello');
        const got = deferred<string>();
        client.on('message', (text: string) => got.resolve(text));
        await client.invoke('Send', 'broadcast');
        assert.equal(await got.promise, 'broadcast');
      } finally {
        await client.stop();
      }

      assert.equal((await fetch(`${example.url}/health`)).status, 200, 'still answers after the hub');
      assert.equal((await fetch(`${example.url}/missing`)).status, 404);
    } finally {
      await example.close();
    }
  });
}
