import assert from 'node:assert/strict';
import test from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { CounterMetrics, Hub, jwtBearerAuthenticator, signJwt } from '@switchboard/server';
import { connectClient, startTestServer, type TestServer, waitFor } from '@switchboard/testkit';

const SECRET = 'rate-secret';

class LimitedHub extends Hub {
  static calls = 0;
  echo(value: string) {
    LimitedHub.calls++;
    return value;
  }
  note(_value: string) {
    LimitedHub.calls++;
  }
  expensive() {
    return 'done';
  }
}

function connectAs(server: TestServer, user?: string): Promise<HubConnection> {
  const token = user ? signJwt({ sub: user }, SECRET, { lifetimeSeconds: 300 }) : undefined;
  return connectClient(`${server.baseUrl}/limited`, token ? { accessTokenFactory: () => token } : {});
}

async function start(rateLimit: object, metrics = new CounterMetrics()): Promise<TestServer> {
  return startTestServer((hubs) => hubs.mapHub('/limited', LimitedHub, { rateLimit }), {
    authenticate: jwtBearerAuthenticator({ secret: SECRET }),
    metrics,
  });
}

/** Fires `count` invokes at once and sorts the outcomes. */
async function flood(connection: HubConnection, method: string, count: number) {
  const results = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => connection.invoke(method, `m${i}`)),
  );
  const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
  return {
    ok: results.length - refused.length,
    refused: refused.map((r) => String(r.reason?.message ?? r.reason)),
  };
}

test('an invoke over the connection limit gets SB_ERR_RATE_LIMITED; a user under the limit never notices', async () => {
  const metrics = new CounterMetrics();
  const server = await start(
    { perConnection: { rate: 1, burst: 5 }, perUser: false, abuseThreshold: 1_000 },
    metrics,
  );
  try {
    const flooder = await connectAs(server, 'flooder');
    const neighbour = await connectAs(server, 'neighbour');
    const { ok, refused } = await flood(flooder, 'echo', 30);
    assert.ok(ok >= 5 && ok <= 7, `about the burst ran (${ok})`);
    assert.equal(refused.length, 30 - ok);
    for (const text of refused)
      assert.match(text, /^SB_ERR_RATE_LIMITED: Too many invocations \(connection limit\)/);
    // The neighbour's own bucket is untouched.
    assert.deepEqual(await Promise.all([1, 2, 3].map((i) => neighbour.invoke('echo', `n${i}`))), [
      'n1',
      'n2',
      'n3',
    ]);
    assert.equal(metrics.snapshot().errors.SB_ERR_RATE_LIMITED, refused.length);
    await flooder.stop();
    await neighbour.stop();
  } finally {
    await server.close();
  }
});

test('unknown methods count against the limit, and refused sends are dropped and counted', async () => {
  const metrics = new CounterMetrics();
  const server = await start(
    { perConnection: { rate: 1, burst: 3 }, perUser: false, abuseThreshold: 1_000 },
    metrics,
  );
  try {
    const client = await connectAs(server, 'spammer');
    const unknown = await flood(client, 'noSuchMethod', 10);
    assert.equal(unknown.refused.filter((t) => t.includes('Method does not exist')).length, 3);
    assert.equal(unknown.refused.filter((t) => t.startsWith('SB_ERR_RATE_LIMITED')).length, 7);
    LimitedHub.calls = 0;
    for (let i = 0; i < 10; i++) void client.send('note', `s${i}`);
    await waitFor(
      () => (metrics.snapshot().errors.SB_ERR_RATE_LIMITED ?? 0) >= 17,
      3_000,
      'dropped sends counted',
    );
    assert.equal(LimitedHub.calls, 0, 'no send ran: the bucket was empty');
    await client.stop();
  } finally {
    await server.close();
  }
});

test("the per-user limit is shared by the user's connections; per-method limits apply on top", async () => {
  const server = await start({
    perConnection: false,
    perUser: { rate: 1, burst: 4 },
    methods: { Expensive: { rate: 1, burst: 1 } },
    abuseThreshold: 1_000,
  });
  try {
    const tabs = [await connectAs(server, 'carol'), await connectAs(server, 'carol')];
    const results = await Promise.allSettled([...tabs, ...tabs].map((t, i) => t.invoke('echo', `c${i}`)));
    results.push(...(await Promise.allSettled(tabs.map((t) => t.invoke('echo', 'more')))));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 4, 'the two tabs share four tokens');
    const other = await connectAs(server, 'dave');
    assert.equal(await other.invoke('expensive'), 'done');
    await assert.rejects(
      other.invoke('expensive'),
      /SB_ERR_RATE_LIMITED: Too many invocations \(method limit\)/,
    );
    for (const c of [...tabs, other]) await c.stop();
  } finally {
    await server.close();
  }
});

test('a client that keeps invoking past its limit is closed with a reason; everyone else is still served', async () => {
  const server = await start({ perConnection: { rate: 1, burst: 2 }, perUser: false, abuseThreshold: 20 });
  try {
    const abuser = await connectAs(server, 'abuser');
    const closed = new Promise<Error | undefined>((resolve) => abuser.onclose(resolve));
    await flood(abuser, 'echo', 40);
    const error = await closed;
    assert.match(String(error), /Server returned an error on close: SB_ERR_RATE_LIMITED/);
    const fine = await connectAs(server, 'fine');
    assert.equal(await fine.invoke('echo', 'still serving'), 'still serving');
    await fine.stop();
  } finally {
    await server.close();
  }
});

test('a method set to false in `methods` is left out of every limit (the app limits it itself)', async () => {
  const server = await start({
    perConnection: { rate: 1, burst: 3 },
    perUser: { rate: 1, burst: 3 },
    methods: { note: false },
    abuseThreshold: 1_000,
  });
  try {
    const connection = await connectAs(server, 'typist');
    LimitedHub.calls = 0;
    // Forty sends of the exempt method all run, and take nothing from the buckets.
    await Promise.all(Array.from({ length: 40 }, (_, i) => connection.send('note', `t${i}`)));
    await waitFor(() => LimitedHub.calls === 40, 5_000, 'every exempt send ran');
    const { ok } = await flood(connection, 'echo', 10);
    assert.ok(ok >= 3 && ok <= 4, `the other methods still have their whole burst (${ok})`);
    await connection.stop();
  } finally {
    await server.close();
  }
});
