// Configuration (the contract, the SQLite + backplane and BACKPLANE=postgres refusals), the operations endpoints, the
// secret kept in storage across restarts, the CLI (add-agent) and SIGTERM draining.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import { createChatApp, loadConfig, SqliteStorage } from '@switchboard/chat-server';
import { connectClient, waitFor } from '@switchboard/testkit';
import { cid, metricsText, startChat } from './helpers.ts';
import { documentedMetricNames, metricSum, serves } from './metrics-text.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const ROOT = new URL('../../../', import.meta.url).pathname;

test('configuration: embedded defaults, and clear refusals naming the variable', () => {
  const c = loadConfig({});
  assert.deepEqual(
    [c.port, c.dataDir, c.databaseUrl, c.backplane, c.messageRateLimit],
    [3000, './data', undefined, 'none', 10],
  );
  assert.throws(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }), {
    code: 'SB_CHAT_CONFIG_INVALID',
    message: /shared storage: set DATABASE_URL/,
  });
  assert.throws(
    () => loadConfig({ BACKPLANE: 'postgres', BACKPLANE_URL: 'postgres://x@h/db' }),
    /DATABASE_URL/,
  );
  assert.throws(() => loadConfig({ PORT: 'eighty' }), /PORT/);
  assert.throws(() => loadConfig({ MESSAGE_RATE_LIMIT: '0' }), /MESSAGE_RATE_LIMIT/);
  assert.throws(() => loadConfig({ JWT_SECRET: 'short' }), /JWT_SECRET/);
  const multi = loadConfig({ BACKPLANE: 'postgres', DATABASE_URL: 'postgres://postgres@127.0.0.1/test' });
  assert.equal(multi.backplaneUrl, 'postgres://postgres@127.0.0.1/test');
  // BACKPLANE=nats: BACKPLANE_URL, else NATS_URL; shared storage as for every backplane.
  const pg = { DATABASE_URL: 'postgres://postgres@127.0.0.1/test' };
  const nats = loadConfig({ ...pg, BACKPLANE: 'nats', NATS_URL: 'nats://127.0.0.1:4222' });
  assert.deepEqual([nats.backplane, nats.backplaneUrl], ['nats', 'nats://127.0.0.1:4222']);
  assert.equal(
    loadConfig({ ...pg, BACKPLANE: 'nats', BACKPLANE_URL: 'nats://a:4222', NATS_URL: 'nats://b:4222' })
      .backplaneUrl,
    'nats://a:4222',
  );
  assert.throws(() => loadConfig({ ...pg, BACKPLANE: 'nats' }), /BACKPLANE_URL.*NATS_URL/);
  assert.throws(() => loadConfig({ BACKPLANE: 'nats', NATS_URL: 'nats://127.0.0.1:4222' }), /DATABASE_URL/);
});

test('/healthz, /readyz and /metrics (Prometheus text with connections, invocations, messages, errors)', async () => {
  const s = await startChat();
  try {
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    const ready = await fetch(`${s.url}/readyz`);
    assert.deepEqual([ready.status, (await ready.json()).storage], [200, 'sqlite']);
    const alice = await s.register('alice');
    const c = await s.connect(alice.token);
    const room = await c.invoke('createRoom', { name: 'm', isPrivate: false });
    await c.invoke('sendMessage', { roomId: room.id, text: 'counted', clientMessageId: cid() });
    await c.invoke('getHistory', { roomId: 'nope' }).catch(() => undefined);
    const text = await metricsText(s.url);
    assert.equal(metricSum(text, 'signalr_server_active_connections'), 1);
    assert.equal(
      metricSum(text, 'signalr_server_active_connections', { signalr_transport: 'web_sockets' }),
      1,
    );
    assert.ok(metricSum(text, 'switchboard_invocations_total')! >= 3);
    assert.equal(metricSum(text, 'switchboard_invocations_total', { signalr_method: 'sendMessage' }), 1);
    assert.equal(metricSum(text, 'chat_messages_stored_total'), 1);
    assert.equal(metricSum(text, 'chat_refusals_total', { code: 'SB_CHAT_FORBIDDEN' }), 1);
    // The labels /metrics always had are still there.
    assert.equal(metricSum(text, 'switchboard_errors_total', { code: 'SB_ERR_HUB_EXCEPTION' }), 1);
    await s.app.storage.close();
    const down = await fetch(`${s.url}/readyz`);
    assert.deepEqual([down.status, (await down.json()).error.code], [503, 'SB_CHAT_STORAGE_UNAVAILABLE']);
  } finally {
    await s.close().catch(() => undefined);
  }
});

test('/metrics serves every name docs/server.md lists (the nodes without a backplane: all but the backplane rows)', async () => {
  const s = await startChat();
  try {
    const alice = await s.register('alice');
    const c = await s.connect(alice.token);
    const room = await c.invoke('createRoom', { name: 'names', isPrivate: false });
    await c.invoke('sendMessage', { roomId: room.id, text: 'one', clientMessageId: cid() });
    await c.invoke('getHistory', { roomId: 'nope' }).catch(() => undefined);
    await c.send('typing', 'nope'); // dropped: not a member
    const gone = await s.connect(alice.token);
    await gone.stop(); // a connection that ended: the duration histogram
    const { always, backplane } = documentedMetricNames();
    assert.ok(always.length >= 15 && backplane.length >= 10, 'the tables were read');
    // The last events (the typing drop, the closed connection) land within a moment.
    let text = await metricsText(s.url);
    for (let i = 0; i < 50 && !always.every((name) => serves(text, name)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      text = await metricsText(s.url);
    }
    const missing = always.filter((name) => !serves(text, name));
    assert.deepEqual(missing, [], 'documented names that /metrics does not serve');
    assert.ok(!backplane.some((name) => serves(text, name)), 'no backplane series without a backplane');
  } finally {
    await s.close();
  }
});

test('without JWT_SECRET the generated secret is kept in storage: tokens survive a restart', async () => {
  const s = await startChat();
  const alice = await s.register('alice');
  const dataDir = s.dataDir;
  await s.app.close();
  const again = await createChatApp(
    loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
  );
  try {
    const url = await again.listen();
    const me = await fetch(`${url}/api/me`, { headers: { Authorization: `Bearer ${alice.token}` } });
    assert.equal(me.status, 200);
  } finally {
    await again.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

function runMain(args: string[], env: Record<string, string>) {
  return spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function exitOf(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

test('the CLI: add-agent USERNAME with the same configuration; start, then SIGTERM drains and exits 0', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-chat-cli-'));
  try {
    const app = await createChatApp(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
    );
    const url = await app.listen();
    const r = await fetch(`${url}/api/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'kim', password: 'password123', displayName: 'Kim' }),
    });
    const { token } = await r.json();
    await app.close();

    const cli = runMain(['add-agent', 'kim'], { DATA_DIR: dataDir });
    let out = '';
    cli.stdout!.on('data', (d) => (out += d));
    assert.equal(await exitOf(cli), 0);
    assert.match(out, /kim is now agent/);
    const storage = new SqliteStorage(join(dataDir, 'chat.sqlite'));
    assert.equal((await storage.userByUsername('kim'))?.role, 'agent');
    await storage.close();

    const server = runMain([], { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' });
    const listening = await new Promise<string>((resolve, reject) => {
      let text = '';
      server.stdout!.on('data', (d) => {
        text += d;
        const m = /listening on (http:\/\/\S+)/.exec(text);
        if (m) resolve(m[1]!);
      });
      server.once('exit', () => reject(new Error(`exited early: ${text}`)));
    });
    // The client reconnects by itself only after a Close that allows it: the drain's does. (Its
    // retries go to the stopped process here; behind a load balancer they reach another node.)
    const client = await connectClient(`${listening}/hubs/chat`, {
      accessTokenFactory: () => token,
      automaticReconnect: [60_000],
    });
    let reconnecting = false;
    client.onreconnecting(() => {
      reconnecting = true;
    });
    server.kill('SIGTERM');
    assert.equal(await exitOf(server), 0);
    await waitFor(() => reconnecting, 10_000, 'the client to start reconnecting after the drain');
    await client.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('logs are JSON lines without secrets: no password, token or JWT secret, even at debug level', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-chat-logs-'));
  const jwtSecret = 'the-jwt-secret-of-the-log-test';
  const password = 'correct-horse-battery';
  const server = runMain([], {
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'debug',
    JWT_SECRET: jwtSecret,
  });
  let out = '';
  server.stdout!.on('data', (d) => (out += d));
  server.stderr!.on('data', (d) => (out += d));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout!.on('data', () => {
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      server.once('exit', () => reject(new Error(`exited early: ${out}`)));
    });
    const post = (path: string, body: unknown, token?: string) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
    await post('/api/auth/register', { username: 'logan', password, displayName: 'Logan' });
    await post('/api/auth/login', { username: 'logan', password: `${password}-wrong` });
    const { token } = await (await post('/api/auth/login', { username: 'logan', password })).json();
    await post('/api/auth/password', { currentPassword: 'nope', newPassword: `${password}-2` }, token);
    // WebSockets carry the token in the query string (access_token).
    const client = await connectClient(`${url}/hubs/chat`, {
      accessTokenFactory: () => token,
      transport: HttpTransportType.WebSockets,
      skipNegotiation: true,
    });
    await client.invoke('getHistory', { roomId: 'nope' }).catch(() => undefined);
    await client.invoke('sendMessage', { roomId: 'x' }).catch(() => undefined);
    await client.stop();
    await post('/api/auth/logout', {}, token);
    server.kill('SIGTERM');
    assert.equal(await exitOf(server), 0);
    const lines = out.split('\n').filter((l) => l.trim() && !l.startsWith('Switchboard chat listening'));
    assert.ok(lines.length > 0, 'something was logged at debug level');
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `a JSON line: ${line}`);
    for (const secret of [password, token, token.split('.')[2], jwtSecret]) {
      assert.ok(!out.includes(secret), `the logs do not contain '${secret.slice(0, 12)}…'`);
    }
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
