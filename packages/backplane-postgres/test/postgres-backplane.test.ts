// postgresBackplane(): one object per node gives a HubServer its lifetime managers (the core over
// PostgresBus) and its presence store, migrates the schema in ready() (refusing to start when it
// cannot), reports health(), and is closed by hubs.close(). Two nodes on one schema.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hub, HubServer, silentLogger } from '@switchboard/server';
import { ScaleoutHubLifetimeManager } from '@switchboard/server/scaleout';
import { RecordingConnection } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import { postgresBackplane, quoteIdent, schemaFromPrefix } from '../src/index.ts';
import { PostgresPresenceStore } from '../src/presence/postgres-presence-store.ts';
import { adminPool, dropSchema, PG_URL, requirePostgres, TcpRelay, uniquePrefix, until } from './helpers.ts';

class ChatHub extends Hub {}

const presence = { presenceGraceMs: 100, presenceLeaseMs: 1_000 };

test('two nodes on postgresBackplane: managers, presence, ready, health and close', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const servers = ['node-a', 'node-b'].map((nodeId) => {
    const hubs = new HubServer({
      backplane: postgresBackplane({ url: PG_URL, prefix, nodeId, ...presence }),
      logger: silentLogger,
    });
    hubs.mapHub('/chat', ChatHub);
    return hubs;
  });
  const [a, b] = servers as [HubServer, HubServer];
  try {
    assert.ok(a.lifetimeManager('/chat') instanceof ScaleoutHubLifetimeManager);
    assert.ok(a.presence instanceof PostgresPresenceStore);
    assert.equal((a.presence as PostgresPresenceStore).schema, schemaFromPrefix(prefix));
    await Promise.all(servers.map((s) => s.ready()));
    const health = a.health()!;
    assert.equal(health.backend, 'postgres');
    assert.equal(health.nodeId, 'node-a');
    assert.equal(health.ready, true);
    assert.equal(health.hubs['/chat']!.connected, true);

    // A send on node a reaches a connection of node b, through the log.
    const member = new RecordingConnection('member', 'ann');
    await b.lifetimeManager('/chat').onConnected(member);
    await a.lifetimeManager('/chat').addToGroup('member', 'room');
    await a.lifetimeManager('/chat').sendGroup('room', 'hello', ['from a']);
    await until(() => member.frames.length === 1, 'the send from node a');
    assert.deepEqual(member.tags(), ['from a']);
    assert.ok(b.health()!.hubs['/chat']!.counters.messagesReceived >= 1);

    // Presence is shared: a connection on node b is seen from node a.
    await b.presence.addConnection({
      connectionId: 'member',
      userId: 'ann',
      transport: 'WebSockets',
      connectedAt: Date.now(),
      device: { type: 'desktop', browser: 'Firefox' },
    });
    assert.equal(await a.presence.isOnline('ann'), true);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    const admin = adminPool();
    await dropSchema(admin, prefix).finally(() => admin.end());
  }
  assert.equal(a.health()!.ready, false, 'closed');
  await assert.rejects(a.presence.onlineUsers(), { code: 'SB_ERR_PRESENCE_CLOSED' });
});

test('ready() rejects with SB_ERR_BACKPLANE_MIGRATION when the schema cannot be migrated', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const schema = quoteIdent(schemaFromPrefix(prefix));
  const admin = adminPool();
  // A table in the way of the first bus migration.
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`CREATE TABLE ${schema}.bus_messages (x int)`);
  const errors: string[] = [];
  const hubs = new HubServer({
    backplane: postgresBackplane({ url: PG_URL, prefix, onError: (e) => errors.push(e.code), ...presence }),
    logger: silentLogger,
  });
  hubs.mapHub('/chat', ChatHub);
  try {
    await assert.rejects(hubs.ready(), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'SB_ERR_BACKPLANE_MIGRATION');
      assert.match(error.message, /^PostgreSQL: migrating schema .* failed at bus 001_messages\.sql/);
      return true;
    });
    assert.equal(hubs.health()!.ready, false);
  } finally {
    await hubs.close();
    await dropSchema(admin, prefix).finally(() => admin.end());
  }
});

test("health() counts the bus's own catch-up after its LISTEN connection came back as replayed", async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const relay = await TcpRelay.start();
  // Node b hears the log through the relay (its LISTEN connection); its writes go direct.
  const servers = [{ nodeId: 'node-a' }, { nodeId: 'node-b', listen: relay.url }].map((node) => {
    const hubs = new HubServer({
      backplane: postgresBackplane({ url: PG_URL, prefix, ...node, ...presence }),
      logger: silentLogger,
    });
    hubs.mapHub('/chat', ChatHub);
    return hubs;
  });
  const [a, b] = servers as [HubServer, HubServer];
  try {
    await Promise.all(servers.map((s) => s.ready()));
    const member = new RecordingConnection('member');
    await b.lifetimeManager('/chat').onConnected(member);
    relay.hold();
    await until(() => !b.health()!.hubs['/chat']!.connected, 'node b to lose its LISTEN connection');
    const sent = 5;
    for (let i = 0; i < sent; i++) await a.lifetimeManager('/chat').sendAll('m', [i]);
    relay.release();
    await until(() => member.frames.length === sent, 'the catch-up', 15_000);
    assert.deepEqual(member.tags(), [0, 1, 2, 3, 4]);
    const counters = b.health()!.hubs['/chat']!.counters;
    assert.ok(counters.reconnects >= 1);
    assert.ok(counters.replayed >= sent, `replayed ${counters.replayed}`);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    await relay.close();
    const admin = adminPool();
    await dropSchema(admin, prefix).finally(() => admin.end());
  }
});
