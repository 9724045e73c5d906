// The webhooks of a running chat (SQLite): WEBHOOK_URL and WEBHOOK_SECRET, every event type from
// real use through the hub, signatures checked with the standardwebhooks verifier, offline
// notifications only for users with no connection, the delivery log route, the metrics, and the
// configuration's errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { ChatError, loadConfig, newWebhookSecret } from '@switchboard/chat-server';
import { waitFor } from '@switchboard/testkit';
import { type ChatTestServer, cid, metricsText, startChat, type Wire } from './helpers.ts';
import { type Receiver, startReceiver, verify, waitUntil } from './webhook-receiver.ts';

const secret = newWebhookSecret();
let receiver: Receiver;
let s: ChatTestServer;
before(async () => {
  receiver = await startReceiver();
  s = await startChat({ WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret, PRESENCE_GRACE_MS: '300' });
});
after(async () => {
  await s.close();
  await receiver.close();
});

const ofType = (type: string) => receiver.received.filter((r) => r.json.type === type);
const waitType = (type: string, n = 1, where: (r: Wire) => boolean = () => true) =>
  waitFor(() => ofType(type).filter(where).length >= n, 15_000, `${n} ${type}`);

test('every event type, signed by the Standard Webhooks spec, with the room sequence', async () => {
  const [alice, bob, carol] = await Promise.all([
    s.register('alice'),
    s.register('bob'),
    s.register('carol'),
  ]);
  const a = await s.connect(alice.token);
  await s.connect(carol.token); // carol is online; bob has no connection anywhere
  const room = await a.invoke('createRoom', { name: `whkh ${cid()}` });
  await a.invoke('inviteToRoom', room.id, bob.user.id);
  await a.invoke('inviteToRoom', room.id, carol.user.id);
  const m = await a.invoke('sendMessage', {
    roomId: room.id,
    text: `hello @${bob.user.username} and @${carol.user.username}`,
    clientMessageId: cid(),
  });
  await a.invoke('editMessage', { messageId: m.id, text: 'hello again' });
  await a.invoke('deleteMessage', { messageId: m.id });
  await a.invoke('removeFromRoom', room.id, bob.user.id);
  const direct = await a.invoke('openDirect', [bob.user.id]);
  const dm = await a.invoke('sendMessage', { roomId: direct.id, text: 'psst', clientMessageId: cid() });

  const guest = await s.guest('Customer');
  const customer = await s.connect(guest.token);
  const request = await customer.invoke('openSupportRequest', { subject: 'Help', text: 'help me' });
  const agent = await s.agent('whkhagent');
  const ag = await s.connect(agent.token);
  await ag.invoke('claimSupportRequest', request.id);
  await ag.invoke('closeSupportRequest', request.id);

  await waitType('message.created', 1, (r) => r.json.data.message.id === m.id);
  await waitType('message.updated');
  await waitType('message.deleted');
  await waitType('room.member_removed', 1, (r) => r.json.data.roomId === room.id);
  // Deliveries run side by side (one event never holds back another): wait for each one checked.
  await waitType('room.member_added', 3, (r) => r.json.data.roomId === room.id);
  for (const type of ['support.request_created', 'support.request_claimed', 'support.request_closed']) {
    await waitType(type, 1, (r) => r.json.data.request?.id === request.id);
  }
  await waitType('notification.offline', 2);

  for (const r of receiver.received) {
    verify(secret, r); // throws on a bad signature or timestamp
    assert.match(r.id, /^msg_[0-9a-f]{32}$/);
    assert.match(r.signature, /^v1,[A-Za-z0-9+/]+=*$/);
    assert.deepEqual(Object.keys(r.json).sort(), ['data', 'timestamp', 'type']);
    assert.match(r.json.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(r.headers['content-type'], 'application/json');
  }
  // A signature made with another secret is refused by the verifier.
  assert.throws(() => verify(newWebhookSecret(), receiver.received[0]!));

  const created = ofType('message.created').find((r) => r.json.data.message.id === m.id)!.json.data;
  assert.equal(created.roomId, room.id);
  assert.equal(created.seq, m.seq);
  assert.equal(created.message.senderId, alice.user.id);
  assert.equal(created.message.text, m.text);
  assert.equal(created.message.sentAt, m.sentAt);
  const updated = ofType('message.updated')[0]!.json.data;
  assert.deepEqual([updated.message.id, updated.message.text, updated.seq], [m.id, 'hello again', m.seq]);
  assert.ok(updated.changeSeq >= 1);
  const deleted = ofType('message.deleted')[0]!.json.data;
  assert.equal(deleted.message.id, m.id);
  assert.ok(deleted.changeSeq > updated.changeSeq);
  assert.equal(deleted.message.text, undefined, 'a deleted text is not sent');

  const added = ofType('room.member_added').filter((r) => r.json.data.roomId === room.id);
  assert.deepEqual(
    added.map((r) => r.json.data.userId).sort(),
    [alice.user.id, bob.user.id, carol.user.id].sort(),
  );
  const removed = ofType('room.member_removed').find((r) => r.json.data.roomId === room.id)!.json.data;
  assert.deepEqual([removed.roomId, removed.userId, removed.seq], [room.id, bob.user.id, m.seq]);

  const support = ['support.request_created', 'support.request_claimed', 'support.request_closed'].map(
    (type) => ofType(type).find((r) => r.json.data.request.id === request.id)!.json.data.request,
  );
  assert.deepEqual(
    support.map((r) => [r.status, r.agentId]),
    [
      ['open', null],
      ['assigned', agent.user.id],
      ['closed', agent.user.id],
    ],
  );
  assert.equal(support[0].customerId, guest.user.id);

  // Offline notices: bob (no connection) for the mention and the direct message; carol (online) none.
  const notices = ofType('notification.offline').map((r) => r.json.data);
  assert.deepEqual(
    notices.map((n) => [n.userId, n.reason, n.message.id]).sort(),
    [
      [bob.user.id, 'direct', dm.id],
      [bob.user.id, 'mention', m.id],
    ].sort(),
  );
  await waitUntil(
    async () =>
      (await s.app.webhooks.store.deliveries({ status: 'skipped', limit: 10 })).some(
        (d) => d.type === 'notification.offline',
      ),
    10_000,
    "carol's notice skipped",
  );
  assert.ok(!ofType('notification.offline').some((r) => r.json.data.userId === carol.user.id));
  // Each delivery is recorded once the receiver's answer came back.
  await waitUntil(
    async () => (await s.app.webhooks.webhookStats()).delivered === receiver.received.length,
    10_000,
    'every delivery recorded',
  );
  const stats = await s.app.webhooks.webhookStats();
  assert.deepEqual([stats.failed, stats.endpoints, stats.disabledEndpoints], [0, 1, 0]);
});

test('GET /api/v1/webhooks/deliveries: the log per endpoint, for an admin', async () => {
  const get = async (query: string, token?: string) => {
    const r = await fetch(`${s.url}/api/v1/webhooks/deliveries${query}`, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    return { status: r.status, body: (await r.json()) as Wire };
  };
  assert.equal((await get('')).status, 401);
  const user = await s.register('whkhuser');
  const refused = await get('', user.token);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, 'SB_CHAT_ADMIN_ONLY');
  const admin = await s.register('whkhadmin');
  await s.app.accounts.setRole(admin.user.username, 'admin');
  const login = await s.post('/api/auth/login', { username: admin.user.username, password: 'password123' });
  const token = login.body.token as string;
  await waitUntil(async () => (await s.app.webhooks.webhookStats()).pending === 0, 10_000, 'all sent');
  const log = await get('?limit=5', token);
  assert.equal(log.status, 200);
  assert.equal(log.body.endpoints.length, 1);
  const [endpoint] = log.body.endpoints;
  assert.equal(endpoint.id, 'env');
  assert.equal(endpoint.url, receiver.url);
  assert.equal(endpoint.secret, undefined, 'no secret in the log');
  assert.equal(endpoint.deliveries.length, 5);
  for (const d of endpoint.deliveries) {
    assert.ok(['delivered', 'skipped'].includes(d.status));
    assert.match(d.eventId, /^msg_/);
    if (d.status === 'delivered') {
      assert.equal(d.attempts, 1);
      assert.equal(d.lastStatus, 200);
      assert.ok(receiver.received.some((r) => r.id === d.eventId));
    }
  }
  const older = await get(`?limit=200&before=${encodeURIComponent(endpoint.deliveries[4].createdAt)}`, token);
  assert.ok(
    older.body.endpoints[0].deliveries.every((d: Wire) => d.createdAt < endpoint.deliveries[4].createdAt),
  );
  const bad = await get('?limit=500', token);
  assert.equal(bad.status, 400);
  assert.deepEqual([bad.body.error.code, bad.body.error.field], ['SB_CHAT_INVALID_INPUT', 'limit']);
  assert.equal((await get('?status=lost', token)).body.error.field, 'status');
  assert.equal((await get('?endpoint=nope', token)).status, 404);
});

test('the webhook metrics are on /metrics', async () => {
  const text = await metricsText(s.url);
  assert.match(text, /^chat_webhooks_delivered(_total)? [1-9]\d*$/m);
  assert.match(text, /^chat_webhooks_endpoints_disabled(_total)? 0$/m);
});

test('configuration: a malformed WEBHOOK_SECRET or WEBHOOK_URL is SB_CHAT_CONFIG_INVALID', () => {
  const refused = (env: Record<string, string>, field: string) => {
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ChatError && e.code === 'SB_CHAT_CONFIG_INVALID' && e.field === field,
      JSON.stringify(env),
    );
  };
  const url = 'https://example.com/hooks';
  refused({ WEBHOOK_URL: url, WEBHOOK_SECRET: 'not-a-secret' }, 'WEBHOOK_SECRET');
  refused({ WEBHOOK_URL: url, WEBHOOK_SECRET: 'whsec_%%%%' }, 'WEBHOOK_SECRET');
  refused(
    { WEBHOOK_URL: url, WEBHOOK_SECRET: `whsec_${Buffer.alloc(8).toString('base64')}` },
    'WEBHOOK_SECRET',
  );
  refused({ WEBHOOK_URL: url }, 'WEBHOOK_SECRET');
  refused({ WEBHOOK_SECRET: secret }, 'WEBHOOK_URL');
  refused({ WEBHOOK_URL: 'ftp://example.com/x', WEBHOOK_SECRET: secret }, 'WEBHOOK_URL');
  refused({ WEBHOOK_URL: 'not a url', WEBHOOK_SECRET: secret }, 'WEBHOOK_URL');
  const ok = loadConfig({ WEBHOOK_URL: url, WEBHOOK_SECRET: secret });
  assert.deepEqual([ok.webhookUrl, ok.webhookSecret], [url, secret]);
});

test('a malformed WEBHOOK_SECRET stops the start with SB_CHAT_CONFIG_INVALID', () => {
  const main = new URL('../src/main.ts', import.meta.url).pathname;
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', main, 'start'], {
    env: { ...process.env, PORT: '0', WEBHOOK_URL: 'http://127.0.0.1:9/x', WEBHOOK_SECRET: 'whsec_short' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /SB_CHAT_CONFIG_INVALID: WEBHOOK_SECRET/);
});
