// The webhooks on PostgreSQL: the suite of webhooks-suite.ts, and three nodes (three pools, three
// dispatchers) sending one outbox: every event is delivered exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newWebhookSecret, PostgresStorage, WebhookDispatcher, WebhookStore } from '@switchboard/chat-server';
import { silentLogger } from '@switchboard/server';
import { requireService, waitFor } from '@switchboard/testkit';
import pg from 'pg';
import { type Receiver, startReceiver, verify, waitUntil } from './webhook-receiver.ts';
import { seed, send, webhooksSuite } from './webhooks-suite.ts';

const URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
let available: boolean | undefined;
let n = 0;

test('PostgreSQL is reachable', async (t) => {
  available = await requireService(t, { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 });
});

async function sql(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

webhooksSuite('postgres', async () => {
  if (!available) return undefined;
  const schema = `whkh_suite_${process.pid}_${++n}`;
  const opened: PostgresStorage[] = [];
  return {
    async open() {
      const storage = new PostgresStorage({ connectionString: URL, schema, maxConnections: 4 });
      await storage.migrate();
      opened.push(storage);
      return storage;
    },
    exec: (_s, text) => sql(`SET search_path = ${schema}; ${text}`),
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
});

describe('three nodes on one PostgreSQL outbox', () => {
  const schema = `whkh_three_${process.pid}`;
  const nodes: PostgresStorage[] = [];
  let receiver: Receiver;
  before(async () => {
    if (!available) return;
    receiver = await startReceiver(() => 200);
    for (let i = 0; i < 3; i++) {
      const storage = new PostgresStorage({ connectionString: URL, schema, maxConnections: 4 });
      await storage.migrate();
      nodes.push(storage);
    }
  });
  after(async () => {
    await receiver?.close();
    await Promise.all(nodes.map((s) => s.close()));
    if (available) await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  test('every event is delivered exactly once, each webhook-id once', async (t) => {
    if (!available) return t.skip('PostgreSQL is not available');
    const secret = newWebhookSecret();
    const stores = nodes.map((s) => WebhookStore.of(s));
    await stores[0]!.upsertEndpoint('whkh_three', receiver.url, secret, new Date().toISOString());
    const { roomId, userId } = await seed(nodes[0]!);
    // Messages written through all three nodes' pools at once.
    const total = 60;
    await Promise.all(
      Array.from({ length: total }, (_, i) => send(nodes[i % 3]!, roomId, userId, `three ${i}`)),
    );
    const dispatchers = nodes.map(
      (_, i) =>
        new WebhookDispatcher({
          store: stores[i]!,
          nodeId: `whkh-node-${i}`,
          logger: silentLogger,
          pollMs: 10,
          batch: 4,
        }),
    );
    for (const d of dispatchers) d.start();
    try {
      const expected = total + 2; // and the two members added by seed
      await waitFor(() => receiver.received.length >= expected, 30_000, `${expected} webhooks`);
      await waitUntil(async () => (await stores[0]!.stats()).pending === 0, 10_000, 'nothing pending');
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await Promise.all(dispatchers.map((d) => d.stop()));
    }
    const ids = receiver.received.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'no webhook-id came twice');
    assert.equal(ids.length, total + 2);
    const texts = receiver.received
      .filter((r) => r.json.type === 'message.created')
      .map((r) => r.json.data.message.text);
    assert.deepEqual([...texts].sort(), Array.from({ length: total }, (_, i) => `three ${i}`).sort());
    // Each event carries the room's sequence number: 1 … total, each once.
    const seqs = receiver.received
      .filter((r) => r.json.type === 'message.created')
      .map((r) => r.json.data.seq);
    assert.deepEqual(
      [...seqs].sort((a, b) => a - b),
      Array.from({ length: total }, (_, i) => i + 1),
    );
    for (const r of receiver.received) verify(secret, r);
    const stats = await stores[1]!.stats();
    assert.equal(stats.delivered, total + 2);
    assert.equal(stats.pending, 0);
    const sent = dispatchers.map((d) => d.counters.delivered);
    assert.equal(
      sent.reduce((a, b) => a + b, 0),
      total + 2,
      `the nodes' deliveries add up (${sent.join(', ')})`,
    );
  });
});
