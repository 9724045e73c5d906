// Nothing is lost when a node dies: a chat server process (SQLite) stores changes whose webhooks
// are in flight (the receiver never answers) or not sent yet, and is killed with SIGKILL. A node
// started again on the same data delivers every one of them, an in-flight one with the same
// webhook-id, once the dead node's lease has run out.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createChatApp, loadConfig, newWebhookSecret } from '@switchboard/chat-server';
import { silentLogger } from '@switchboard/server';
import { connectClient, waitFor } from '@switchboard/testkit';
import { cid, TEST_ENV } from './helpers.ts';
import { startReceiver, verify, waitUntil } from './webhook-receiver.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'whkh-kill-'));
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dataDir, { recursive: true, force: true });
});

function startNode(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, 'start'], {
    env: { ...process.env, ...TEST_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => child.kill('SIGKILL'));
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start in 60 s: ${text}`)), 60_000);
    const onData = (d: Buffer) => {
      text = (text + d).slice(-20_000);
      const m = /listening on (http:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before listening: ${text}`));
    });
  });
}

test('a node killed mid-send and before sending loses no webhook', async () => {
  const secret = newWebhookSecret();
  const stuck = await startReceiver(() => 'hang');
  cleanups.push(() => stuck.close());
  const env = { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, WEBHOOK_SECRET: secret, LOG_LEVEL: 'warn' };
  const { child, url } = await startNode({ ...env, WEBHOOK_URL: stuck.url, NODE_ID: 'whkh-doomed' });

  const register = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: `whkhkill${process.pid}`, password: 'password123', displayName: 'K' }),
  });
  const session = (await register.json()) as { token: string };
  const hub = await connectClient(`${url}/hubs/chat`, { accessTokenFactory: () => session.token });
  cleanups.push(() => hub.stop().catch(() => undefined));
  const room = await hub.invoke('createRoom', { name: `whkh kill ${cid()}` });
  const first = await hub.invoke('sendMessage', {
    roomId: room.id,
    text: 'in flight',
    clientMessageId: cid(),
  });
  // The node is sending it: the receiver has the request and never answers.
  await waitFor(
    () =>
      stuck.received.some((r) => r.json.type === 'message.created' && r.json.data.message.id === first.id),
    20_000,
    'the first message in flight',
  );
  const inFlightId = stuck.received.find((r) => r.json.data.message?.id === first.id)!.id;
  // A change committed just before the kill (most likely not sent yet).
  const second = await hub.invoke('sendMessage', {
    roomId: room.id,
    text: 'not sent',
    clientMessageId: cid(),
  });
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));

  // Started again on the same data, with a receiver that answers; its clock is past the dead
  // node's lease (the timeout and 30 s).
  const good = await startReceiver(() => 200);
  cleanups.push(() => good.close());
  const config = loadConfig({ ...TEST_ENV, ...env, WEBHOOK_URL: good.url, NODE_ID: 'whkh-reborn' });
  const app = await createChatApp(config, {
    logger: silentLogger,
    drainTimeoutMs: 300,
    webhooks: { now: () => Date.now() + 60_000, pollMs: 50 },
  });
  cleanups.push(() => app.close());
  await waitFor(
    () => [first.id, second.id].every((id) => good.received.some((r) => r.json.data.message?.id === id)),
    20_000,
    'both messages delivered after the restart',
  );
  const again = good.received.find((r) => r.json.data.message?.id === first.id)!;
  assert.equal(again.id, inFlightId, 'the same webhook-id as the interrupted attempt');
  assert.ok(good.received.some((r) => r.json.type === 'room.member_added' && r.json.data.roomId === room.id));
  for (const r of good.received) verify(secret, r);
  await waitUntil(async () => (await app.webhooks.webhookStats()).pending === 0, 10_000, 'nothing pending');
});
