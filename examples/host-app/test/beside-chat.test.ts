// `npm run example:host-app` after the build: scripts/beside-chat.mjs on free ports starts the chat
// (from apps/chat-server/dist) and the host app, wired by the API key and webhook secret it makes;
// a user signs in to the host app, the chat accepts their token, a project room made through the
// server API is announced by a webhook the host app verified, and SIGTERM stops everything.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..', '..');
const built = existsSync(join(root, 'apps', 'chat-server', 'dist', 'main.js'));
const skip = built
  ? false
  : 'apps/chat-server/dist is missing: run `npm run build` first (the script runs the built chat)';
if (skip && process.env.CI === 'true') throw new Error(skip);
if (skip) console.warn(`SKIPPED examples/host-app/test/beside-chat.test.ts: ${skip}`);

/** Two distinct free ports: both are held open before either is let go (else the OS may hand out one twice). */
async function freePorts(): Promise<[number, number]> {
  const servers = [createServer(), createServer()];
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, resolve))));
  const ports = servers.map((server) => (server.address() as AddressInfo).port) as [number, number];
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

/** Waits until the output so far matches `pattern`; answers the match. */
async function waitFor(out: { text: string }, child: ChildProcess, pattern: RegExp, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const match = out.text.match(pattern);
    if (match) return match;
    if (child.exitCode !== null) throw new Error(`the script ended (exit ${child.exitCode}):\n${out.text}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${out.text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('beside-chat.mjs starts the chat and the host app wired together, and stops both', {
  skip,
}, async () => {
  const [chatPort, hostPort] = await freePorts();
  const hostUrl = `http://localhost:${hostPort}`;
  const chatUrl = `http://localhost:${chatPort}`;
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !/^(npm_|NODE_OPTIONS$|CHAT_|WEBHOOK_|AUTH_|DATABASE_|REDIS_|BACKPLANE|NATS_|WORKERS$|HOST$|PORT$)/.test(
          k,
        ),
    ),
  );
  const child = spawn(process.execPath, [join(root, 'examples', 'host-app', 'scripts', 'beside-chat.mjs')], {
    cwd: root,
    env: {
      ...env,
      CHAT_PORT: String(chatPort),
      HOST_APP_PORT: String(hostPort),
      DEMO_PASSWORD: 'hsta-beside',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that a failed test can end the script and the two it started.
    detached: true,
  });
  const out = { text: '' };
  child.stdout!.on('data', (chunk) => {
    out.text += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    out.text += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const dataDir = (await waitFor(out, child, /\(data in (\S+), removed at the end\)/))[1]!;
    assert.ok(existsSync(dataDir));
    await waitFor(out, child, /\[host-app\] host app: chat at .*server API key set; webhooks at /);

    const signIn = await fetch(`${hostUrl}/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: hostUrl },
      body: new URLSearchParams({ username: 'alice', password: 'hsta-beside' }),
    });
    assert.equal(signIn.status, 303);
    const cookie = signIn.headers.getSetCookie()[0]!.split(';')[0]!;
    const token = await (await fetch(`${hostUrl}/chat-token`, { headers: { Cookie: cookie } })).text();
    const me = await fetch(`${chatUrl}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { user: { displayName: string } }).user.displayName, 'Alice Moreau');

    const opened = await fetch(`${hostUrl}/projects/apollo/chat`, {
      method: 'POST',
      headers: { Accept: 'application/json', Cookie: cookie, Origin: hostUrl },
    });
    assert.equal(opened.status, 201, await opened.clone().text());
    const { roomId } = (await opened.json()) as { roomId: string };
    await waitFor(
      out,
      child,
      new RegExp(`\\[host-app\\] webhook message\\.created room=${roomId} seq=1 project=apollo`),
    );
    assert.doesNotMatch(out.text, /webhook refused/);

    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(!existsSync(dataDir), 'the temporary data directory is removed');
    for (const url of [chatUrl, hostUrl])
      await assert.rejects(fetch(`${url}/`), `nothing answers at ${url} any more`);
  } finally {
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }
});
