// The README's negotiate functions, run as they are: the official client follows the Node app's
// negotiate redirect to the service, and the Python example's token and broadcast work too.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectClient, waitFor } from '@switchboard/testkit';
import { callService, createNegotiateServer } from '../examples/negotiate.mjs';
import { collect, type ServiceProcess, startService } from './helpers.ts';

const KEY = 'examples-key';
let service: ServiceProcess;

before(async () => {
  service = await startService(['--hub', 'chat', '--access-key', KEY]);
});

after(async () => {
  await service.stop();
});

test('Node: the official client follows the app negotiate to the service; a REST broadcast reaches it', async () => {
  const app = createNegotiateServer({ endpoint: service.baseUrl, accessKey: KEY, hub: 'chat' });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/api?user=nia`;
  const client = await connectClient(appUrl);
  try {
    const got = collect(client, 'm');
    const user = await callService({
      endpoint: service.baseUrl,
      accessKey: KEY,
      method: 'POST',
      path: '/api/hubs/chat/users/nia/:send',
      body: { target: 'm', arguments: ['for nia'] },
    });
    assert.equal(user.status, 202);
    await waitFor(() => got.length === 1, 5_000, 'the user send through the redirect');
    assert.deepEqual(got[0], ['for nia']);
  } finally {
    await client.stop();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  }
});

test('Python: the example signs client tokens and broadcasts over plain HTTP', async (t) => {
  if (spawnSync('python3', ['--version']).status !== 0) {
    if (process.env.CI === 'true') throw new Error('python3 is not available (CI=true)');
    process.stderr.write('\n!!! SKIPPED: the Python example: python3 is not available\n\n');
    return t.skip('python3 is not available');
  }
  const dir = fileURLToPath(new URL('../examples/', import.meta.url));
  const script = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(dir)})`,
    'import negotiate as n',
    `n.ENDPOINT = ${JSON.stringify(service.baseUrl)}`,
    `n.ACCESS_KEY = ${JSON.stringify(KEY)}`,
    'print(json.dumps(n.negotiate("py")))',
  ].join('\n');
  const first = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
  assert.equal(first.status, 0, first.stderr);
  const { url, accessToken } = JSON.parse(first.stdout) as { url: string; accessToken: string };
  assert.equal(url, `${service.baseUrl}/client/?hub=chat`);
  const client = await connectClient(url, { accessTokenFactory: () => accessToken });
  try {
    const got = collect(client, 'm');
    const broadcast = spawnSync('python3', ['-c', `${script}\nprint(n.broadcast("m", "from python", 1))`], {
      encoding: 'utf8',
    });
    assert.equal(broadcast.status, 0, broadcast.stderr);
    assert.match(broadcast.stdout, /^202$/m);
    await waitFor(() => got.length === 1, 5_000, 'the broadcast from Python');
    assert.deepEqual(got[0], ['from python', 1]);
  } finally {
    await client.stop();
  }
});
