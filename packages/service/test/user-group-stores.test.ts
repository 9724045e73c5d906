// The user-group stores of every backend, against the same contract: two stores on one backend
// (two nodes) see each other's memberships; add replaces an expiry, remove says whether a current
// one existed, an expired membership is never reported, scopes and odd names stay apart. Redis,
// PostgreSQL and NATS skip loudly when absent (they fail under CI=true); the run's keys, schema
// and bucket are deleted afterwards.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { NatsUserGroupStore } from '@switchboard/backplane-nats';
import { PostgresUserGroupStore } from '@switchboard/backplane-postgres';
import { RedisUserGroupStore } from '@switchboard/backplane-redis';
import {
  type InboxPort,
  InboxUserGroupStore,
  MemoryUserGroupState,
  MemoryUserGroupStore,
  type UserGroupStore,
} from '@switchboard/server/scaleout';
import { requireService } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import pg from 'pg';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function serviceOf(url: string, name: string) {
  const { hostname, port } = new URL(url);
  return { kind: 'tcp', name, host: hostname, port: Number(port) } as const;
}

async function contract(a: UserGroupStore, b: UserGroupStore): Promise<void> {
  await Promise.all([a.start(), b.start()]);
  try {
    const later = Date.now() + 60_000;
    const user = 'ü:s.e r*>';
    const group = 'g:1.two *';
    assert.equal(await b.has('hub', user, group), false);
    await a.add('hub', user, group, later);
    await a.add('hub', user, 'other', later + 1_000);
    assert.equal(await b.has('hub', user, group), true, 'the other node sees it');
    assert.deepEqual(
      [...(await b.groups('hub', user))].sort(),
      [
        [group, later],
        ['other', later + 1_000],
      ].sort(),
    );
    assert.equal(await b.has('other-hub', user, group), false, 'scopes stay apart');
    assert.equal(await b.has('hub', 'ü:s.e', group), false, 'users stay apart');
    // add replaces the expiry (shorter too).
    await b.add('hub', user, 'other', later - 1_000);
    assert.equal((await a.groups('hub', user)).get('other'), later - 1_000);
    // remove: whether a current one existed.
    assert.equal(await b.remove('hub', user, group), true);
    assert.equal(await a.remove('hub', user, group), false);
    assert.equal(await a.has('hub', user, group), false);
    assert.deepEqual([...(await a.groups('hub', user)).keys()], ['other']);
    // removeAll.
    await a.add('hub', user, group, later);
    await b.removeAll('hub', user);
    assert.equal((await a.groups('hub', user)).size, 0);
    // Expiry: reported until it ends, never after.
    await a.add('hub', 'brief', 'g', Date.now() + 300);
    await a.add('hub', 'brief', 'h', later);
    assert.equal(await b.has('hub', 'brief', 'g'), true);
    await sleep(400);
    assert.equal(await b.has('hub', 'brief', 'g'), false);
    assert.deepEqual([...(await b.groups('hub', 'brief')).keys()], ['h']);
    assert.equal(await b.remove('hub', 'brief', 'g'), false, 'an expired membership is not a current one');
    // A `now` in the future reads the expiries.
    assert.equal(await b.has('hub', 'brief', 'h', later + 1), false);
    assert.equal((await b.groups('hub', 'brief', later - 1)).size, 1);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

test('user-group store: memory (two stores sharing a state)', async () => {
  const state = new MemoryUserGroupState();
  await contract(new MemoryUserGroupStore(state), new MemoryUserGroupStore(state));
});

test('user-group store: in-box (svcw: two stores of a process held by its primary over IPC)', async () => {
  // The child process stands for the primary of `--workers N`; this process for a worker.
  for (const serialization of ['advanced', 'json'] as const) {
    const host = fork(fileURLToPath(new URL('./fixtures/user-group-host-process.ts', import.meta.url)), {
      execArgv: ['--conditions=source', '--import', 'tsx'],
      serialization,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      await once(host, 'message');
      const port = host as unknown as InboxPort;
      await contract(new InboxUserGroupStore(port), new InboxUserGroupStore(port));
      // Once the primary is gone, a call fails at once with a clear error.
      const store = new InboxUserGroupStore(port);
      await store.start();
      const exited = once(host, 'exit');
      host.disconnect();
      await exited;
      await assert.rejects(store.has('hub', 'u', 'g'), /In-box user groups: .*closed/);
      await store.close();
    } finally {
      if (host.exitCode === null) host.kill();
    }
  }
});

test('user-group store: Redis', async (t) => {
  if (!(await requireService(t, serviceOf(REDIS_URL, 'Redis')))) return;
  const prefix = `svch_${randomUUID()}:`;
  try {
    await contract(
      new RedisUserGroupStore({ url: REDIS_URL, prefix }),
      new RedisUserGroupStore({ url: REDIS_URL, prefix }),
    );
  } finally {
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  }
});

test('user-group store: PostgreSQL', async (t) => {
  if (!(await requireService(t, serviceOf(PG_URL, 'PostgreSQL')))) return;
  const schema = `svch_ug_${Date.now()}`;
  try {
    await contract(
      new PostgresUserGroupStore({ url: PG_URL, schema }),
      new PostgresUserGroupStore({ url: PG_URL, schema }),
    );
  } finally {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  }
});

test('user-group store: NATS JetStream', async (t) => {
  if (!(await requireService(t, serviceOf(NATS_URL, 'NATS')))) return;
  const prefix = `svch_${Date.now()}:`;
  const a = new NatsUserGroupStore({ servers: NATS_URL, prefix });
  try {
    await contract(a, new NatsUserGroupStore({ servers: NATS_URL, prefix }));
  } finally {
    const nc = await natsConnect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(`KV_${a.bucket}`).catch(() => false);
    await nc.close();
  }
});
