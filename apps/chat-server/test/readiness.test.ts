// /readyz with a backplane: ready while the backplane answers, 503 SB_CHAT_BACKPLANE_UNREACHABLE
// while our own redis-server is stopped (the node keeps running), ready again once it is back.
// Needs PostgreSQL (shared storage) and the redis-server binary; skips loudly without PostgreSQL.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OwnRedis } from '@switchboard/testkit';
import pg from 'pg';
import { type ChatTestServer, startChat } from './helpers.ts';
import { DATABASE_URL, servicesAvailable } from './process-cluster.ts';

async function readyz(s: ChatTestServer): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${s.url}/readyz`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** Polls /readyz until it answers `status` (bounded). */
async function until(s: ChatTestServer, status: number, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last = await readyz(s);
  while (last.status !== status && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await readyz(s);
  }
  assert.equal(last.status, status, JSON.stringify(last.body));
  return last;
}

test('/readyz reports the backplane: 503 while Redis is down, ready again when it is back', async (t) => {
  if (!(await servicesAvailable(t, { redis: false }))) return;
  const schema = `chat_ready_${process.pid}_${Date.now()}`;
  const redis = await OwnRedis.start();
  let s: ChatTestServer | undefined;
  try {
    s = await startChat({
      DATABASE_URL,
      DATABASE_SCHEMA: schema,
      REDIS_URL: redis.url,
      BACKPLANE_PREFIX: `sb-chat-ready-${process.pid}`,
      NODE_ID: 'ready-node',
    });
    const up = await until(s, 200);
    assert.deepEqual(up.body, { status: 'ready', storage: 'postgres', backplane: 'reachable' });
    await redis.stop();
    const down = await until(s, 503);
    assert.deepEqual(down.body, {
      error: { code: 'SB_CHAT_BACKPLANE_UNREACHABLE', message: 'The backplane does not answer.' },
    });
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200, 'the process keeps serving');
    await redis.start();
    await until(s, 200);
  } finally {
    await s?.close().catch(() => undefined);
    await redis.dispose();
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
});
