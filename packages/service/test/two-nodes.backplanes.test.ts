// Two service processes on PostgreSQL, then on NATS JetStream: a send on node A's REST API
// reaches a client on node B, and node A finds node B's connection; the user-group memberships
// are kept in the backplane (user-groups-scenario.ts). The run's schema and streams
// are deleted afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { requireService, waitFor } from '@switchboard/testkit';
import pg from 'pg';
import { collect, connectHub, rest, type ServiceProcess, startService } from './helpers.ts';
import { userGroupsAcrossNodes } from './user-groups-scenario.ts';

const KEY = 'backplanes-key';
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

function serviceOf(url: string, name: string) {
  const { hostname, port } = new URL(url);
  return { kind: 'tcp', name, host: hostname, port: Number(port) } as const;
}

async function twoNodes(kind: string, url: string, marker: string): Promise<void> {
  await sendAcross(kind, url, marker);
  await userGroupsAcrossNodes([
    '--backplane',
    kind,
    '--backplane-url',
    url,
    '--backplane-prefix',
    `${marker}ug:`,
  ]);
}

async function sendAcross(kind: string, url: string, marker: string): Promise<void> {
  const args = ['--hub', 'chat', '--access-key', KEY, '--backplane', kind, '--backplane-url', url];
  const prefix = ['--backplane-prefix', `${marker}:`];
  const nodes: ServiceProcess[] = [];
  try {
    nodes.push(await startService([...args, ...prefix, '--node-id', 'A']));
    nodes.push(await startService([...args, ...prefix, '--node-id', 'B']));
    const [a, b] = nodes as [ServiceProcess, ServiceProcess];
    const client = await connectHub(b.baseUrl, 'chat', KEY, 'bo');
    try {
      const got = collect(client, 'm');
      const sent = await rest(a.baseUrl, KEY, 'POST', '/api/hubs/chat/users/bo/:send', {
        body: { target: 'm', arguments: [kind] },
      });
      assert.equal(sent.status, 202);
      await waitFor(() => got.length === 1, 10_000, `the send across ${kind}`);
      assert.deepEqual(got[0], [kind]);
      const head = await rest(a.baseUrl, KEY, 'HEAD', `/api/hubs/chat/connections/${client.connectionId}`);
      assert.equal(head.status, 200);
    } finally {
      await client.stop();
    }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

test('two nodes on PostgreSQL', async (t) => {
  if (!(await requireService(t, serviceOf(PG_URL, 'PostgreSQL')))) return;
  const marker = `svch${Date.now()}pg`;
  try {
    await twoNodes('postgres', PG_URL, marker);
  } finally {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    const { rows } = await client.query<{ nspname: string }>(
      'select nspname from pg_namespace where nspname like $1',
      [`%${marker}%`],
    );
    for (const row of rows) await client.query(`drop schema "${row.nspname}" cascade`);
    await client.end();
  }
});

test('two nodes on NATS JetStream', async (t) => {
  if (!(await requireService(t, serviceOf(NATS_URL, 'NATS')))) return;
  const marker = `svch${Date.now()}nats`;
  try {
    await twoNodes('nats', NATS_URL, marker);
  } finally {
    const nc = await natsConnect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    for (const name of names) if (name.includes(marker)) await jsm.streams.delete(name);
    await nc.close();
  }
});
