// Issue #18, finding 6 and the limits: on by default, each an environment variable that 0 turns
// off, no address exempt (these tests run on loopback). Limits that were in memory per node (login,
// guest, typing) are shared by every node on one storage.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { loadConfig } from '@switchboard/chat-server';
import { settle, startChat, type Wire } from './helpers.ts';

test('the limits have their documented defaults, and each accepts 0 to turn it off', () => {
  const defaults = loadConfig({});
  assert.equal(defaults.maxConnectionsPerUser, 20);
  assert.equal(defaults.negotiateRateLimit, 120);
  assert.equal(defaults.registerRateLimit, 20);
  assert.equal(defaults.invokeRateLimit, 30);
  assert.equal(defaults.maxSocketsPerIp, 200);
  assert.equal(defaults.loginAccountLimit, 5);
  assert.equal(defaults.loginBackoffMaxSeconds, 900);
  assert.equal(defaults.metricsToken, undefined);
  assert.equal(defaults.frameAncestors, "'none'");
  const off = loadConfig({
    MAX_CONNECTIONS_PER_USER: '0',
    NEGOTIATE_RATE_LIMIT: '0',
    REGISTER_RATE_LIMIT: '0',
    INVOKE_RATE_LIMIT: '0',
    MAX_SOCKETS_PER_IP: '0',
    LOGIN_ACCOUNT_LIMIT: '0',
  });
  for (const key of [
    'maxConnectionsPerUser',
    'negotiateRateLimit',
    'registerRateLimit',
    'invokeRateLimit',
    'maxSocketsPerIp',
    'loginAccountLimit',
  ] as const) {
    assert.equal(off[key], 0, key);
  }
  assert.throws(() => loadConfig({ INVOKE_RATE_LIMIT: '-1' }), /INVOKE_RATE_LIMIT/);
  assert.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), /METRICS_TOKEN/);
});

test('MAX_CONNECTIONS_PER_USER: one user past the cap is refused (429 at negotiate); others connect', async () => {
  const s = await startChat({ MAX_CONNECTIONS_PER_USER: '3' });
  try {
    const [hog, other] = await Promise.all([s.register('hog'), s.register('other')]);
    for (let i = 0; i < 3; i++) await s.connect(hog.token);
    await assert.rejects(s.connect(hog.token), /Too many connections for this user|429/);
    await s.connect(other.token);
  } finally {
    await s.close();
  }
});

test('NEGOTIATE_RATE_LIMIT: negotiates per IP past the burst get 429, loopback included', async () => {
  const s = await startChat({ NEGOTIATE_RATE_LIMIT: '5' });
  try {
    const { token } = await s.register('negotiator');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await fetch(`${s.url}/hubs/chat/negotiate?negotiateVersion=1`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
      await r.arrayBuffer();
      statuses.push(r.status);
    }
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
    assert.deepEqual(statuses.slice(5), [429, 429, 429]);
  } finally {
    await s.close();
  }
});

test('REGISTER_RATE_LIMIT: registrations per IP per hour; past it 429 SB_CHAT_RATE_LIMITED with Retry-After', async () => {
  const s = await startChat({ REGISTER_RATE_LIMIT: '3' });
  try {
    const attempt = (i: number) =>
      fetch(`${s.url}/api/auth/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          username: `reg${i}x${process.pid}`,
          password: 'password123',
          displayName: 'R',
        }),
      });
    for (let i = 0; i < 3; i++) assert.equal((await attempt(i)).status, 201);
    const refused = await attempt(3);
    assert.equal(refused.status, 429);
    assert.equal((await refused.json()).error.code, 'SB_CHAT_RATE_LIMITED');
    assert.equal(refused.headers.get('retry-after'), '1200');
  } finally {
    await s.close();
  }
});

test('INVOKE_RATE_LIMIT: a user past the burst gets SB_ERR_RATE_LIMITED; typing is apart; other users are served', async () => {
  const s = await startChat({ INVOKE_RATE_LIMIT: '2' });
  try {
    const [flooder, neighbour] = await Promise.all([s.register('flooder'), s.register('neighbour')]);
    const fc = await s.connect(flooder.token);
    const nc = await s.connect(neighbour.token);
    const room = await fc.invoke('createRoom', { name: 'typing here', isPrivate: false });
    await nc.invoke('joinRoom', room.id);
    const typing: Wire[] = [];
    nc.on('typing', (e) => typing.push(e));
    const results = await Promise.allSettled(Array.from({ length: 60 }, () => fc.invoke('listRooms')));
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    // A burst of 2 × 10 (one was spent on createRoom), then refusals.
    assert.ok(refused.length >= 35, `most of the flood is refused (${refused.length})`);
    for (const r of refused) assert.match(String(r.reason?.message), /SB_ERR_RATE_LIMITED/);
    // The flooder's typing notice still goes out: typing has its own limit.
    await fc.send('typing', room.id);
    await settle(200);
    assert.equal(typing.length, 1);
    assert.equal((await nc.invoke('listRooms')).length, 1);
  } finally {
    await s.close();
  }
});

test('login per account: a backoff after LOGIN_ACCOUNT_LIMIT failures that a stranger cannot turn on for the owner’s known address', async () => {
  const s = await startChat({
    TRUST_PROXY: 'true',
    LOGIN_ACCOUNT_LIMIT: '3',
    LOGIN_RATE_LIMIT: '1000',
  });
  try {
    const from = (ip: string) => ({ 'X-Forwarded-For': ip });
    const owner = await s.post(
      '/api/auth/register',
      { username: `owner${process.pid}`, password: 'right-password', displayName: 'Owner' },
      undefined,
      from('10.1.0.1'),
    );
    assert.equal(owner.status, 201);
    const login = (password: string, ip: string) =>
      s.post('/api/auth/login', { username: `owner${process.pid}`, password }, undefined, from(ip));
    // A stranger tries from three addresses (each under the per-IP limit).
    for (const ip of ['10.2.0.1', '10.2.0.2', '10.2.0.3'])
      assert.equal((await login('guess', ip)).status, 401);
    // Now the account waits, for the right password too, from any unknown address ...
    const waiting = await login('right-password', '10.3.0.1');
    assert.equal(waiting.status, 429);
    assert.equal(waiting.body.error.code, 'SB_CHAT_RATE_LIMITED');
    // ... but the owner's known address signs in with the right password.
    assert.equal((await login('right-password', '10.1.0.1')).status, 200);
    // The wait doubles with each further failure: 1 s, then 2 s (still waiting after 1.2 s).
    await settle(1_100);
    assert.equal((await login('guess', '10.2.0.4')).status, 401);
    const doubled = await fetch(`${s.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...from('10.2.0.5') },
      body: JSON.stringify({ username: `owner${process.pid}`, password: 'guess' }),
    });
    assert.equal(doubled.status, 429);
    assert.ok(Number(doubled.headers.get('retry-after')) >= 1);
    await settle(1_200);
    assert.equal((await login('right-password', '10.3.0.2')).status, 429);
    // It is a backoff, not a lockout: after the wait the right password works from a new address.
    await settle(1_000);
    assert.equal((await login('right-password', '10.3.0.1')).status, 200);
  } finally {
    await s.close();
  }
});

test('LOGIN_RATE_LIMIT per IP: a neighbour behind the owner’s address who trips it does not keep the owner out', async () => {
  const s = await startChat({ TRUST_PROXY: 'true', LOGIN_RATE_LIMIT: '3' });
  try {
    const office = { 'X-Forwarded-For': '10.5.0.1' };
    const username = `worker${process.pid}`;
    const reg = await s.post(
      '/api/auth/register',
      { username, password: 'right-password', displayName: 'W' },
      undefined,
      office,
    );
    assert.equal(reg.status, 201);
    const other = await s.register('elsewhere');
    const wrong = { username: 'nobody-at-all', password: 'guess-guess' };
    for (let i = 0; i < 3; i++)
      assert.equal((await s.post('/api/auth/login', wrong, undefined, office)).status, 401);
    assert.equal((await s.post('/api/auth/login', wrong, undefined, office)).status, 429);
    // The address is tripped for everyone it is not a known address of ...
    const stranger = { username: other.user.username, password: 'password123' };
    assert.equal((await s.post('/api/auth/login', stranger, undefined, office)).status, 429);
    // ... but the owner, who registered from it, signs in from it.
    const owner = await s.post(
      '/api/auth/login',
      { username, password: 'right-password' },
      undefined,
      office,
    );
    assert.equal(owner.status, 200);
  } finally {
    await s.close();
  }
});

test('login, guest and typing limits are shared by the nodes on one storage, not multiplied by them', async () => {
  const env = { LOGIN_RATE_LIMIT: '2', GUEST_RATE_LIMIT: '2', TYPING_RATE_LIMIT: '1' };
  const a = await startChat(env);
  const b = await startChat({ ...env, DATA_DIR: a.dataDir });
  try {
    const wrong = { username: 'nobody-here', password: 'not-it-at-all' };
    assert.equal((await a.post('/api/auth/login', wrong)).status, 401);
    assert.equal((await a.post('/api/auth/login', wrong)).status, 401);
    assert.equal((await b.post('/api/auth/login', wrong)).status, 429, 'node b knows what node a counted');
    await a.guest('G1');
    await a.guest('G2');
    assert.equal((await b.post('/api/auth/guest', { displayName: 'G3' })).status, 429);

    const typist = await a.register('typist');
    const ca = await a.connect(typist.token);
    const cb = await b.connect(typist.token);
    const room = await ca.invoke('createRoom', { name: 'typing', isPrivate: false });
    // The bucket holds 3 (burst 3 × 1 per second): node a takes them, node b finds none.
    for (let i = 0; i < 3; i++) await ca.send('typing', room.id);
    await settle(100);
    for (let i = 0; i < 3; i++) await cb.send('typing', room.id);
    await settle(200);
    const metrics = await (
      await fetch(`${b.url}/metrics`, { headers: { Authorization: `Bearer ${b.app.config.metricsToken}` } })
    ).text();
    const dropped = Number(/^chat_typing_dropped_total (\d+)/m.exec(metrics)?.[1]);
    // Per node, b would have let all three through (its own bucket is full); a token or two may
    // have flowed back in meanwhile on a slow machine.
    assert.ok(dropped >= 1, `node b dropped what node a used up (${dropped})`);
  } finally {
    await b.close();
    await a.close();
  }
});

test('MAX_SOCKETS_PER_IP: sockets past the cap from one address get 429 and are closed; a freed one makes room', async () => {
  const s = await startChat({ MAX_SOCKETS_PER_IP: '3' });
  const { port } = new URL(s.url);
  const open = () =>
    new Promise<Socket>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    });
  const held: Socket[] = [];
  try {
    for (let i = 0; i < 3; i++) held.push(await open());
    const extra = await open();
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      extra.on('data', (d) => (text += d));
      extra.once('close', () => resolve(text));
    });
    assert.match(answer, /^HTTP\/1\.1 429/);
    held.pop()!.destroy();
    await settle(100);
    const r = await fetch(`${s.url}/healthz`, { headers: { Connection: 'close' } });
    assert.equal(r.status, 200);
  } finally {
    for (const socket of held) socket.destroy();
    await s.close();
  }
});

test('ADVERTISE_URL: an http(s) origin where the other nodes reach this one', () => {
  assert.equal(loadConfig({}).advertiseUrl, undefined);
  assert.equal(loadConfig({ ADVERTISE_URL: 'http://10.0.0.5:3000' }).advertiseUrl, 'http://10.0.0.5:3000');
  for (const bad of ['10.0.0.5:3000', 'ftp://x', 'http://x/chat']) {
    assert.throws(() => loadConfig({ ADVERTISE_URL: bad }), /ADVERTISE_URL/);
  }
});
