// The limit flags of the conformance server: --rate-limit N (invocations per second per connection,
// bursts of N), --negotiate-rate N (negotiates per second per client IP, bursts of N) and
// --max-connections-per-user N; --request-headers-timeout-ms N and --max-sockets-per-ip N.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HubConnection } from '@microsoft/signalr';
import type { ConformanceServer } from '@switchboard/conformance';
import { connect, fetchToken, startQuietServer, stopAll } from './helpers.ts';

const RATE = 3;

let limited: ConformanceServer;
let negotiateLimited: ConformanceServer;
let capped: ConformanceServer;
const opened: HubConnection[] = [];

before(async () => {
  [limited, negotiateLimited, capped] = await Promise.all([
    startQuietServer({ rateLimit: RATE }),
    startQuietServer({ negotiateRate: 2 }),
    startQuietServer({ maxConnectionsPerUser: 2 }),
  ]);
});

after(async () => {
  await stopAll(opened);
  await Promise.all([limited.close(), negotiateLimited.close(), capped.close()]);
});

/** Invokes Echo `n` times at once; the outcome of each, in order. */
async function burst(connection: HubConnection, n: number): Promise<(string | Error)[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      connection.invoke<string>('Echo', `m${i}`).catch((error: unknown) => error as Error),
    ),
  );
}

test('--rate-limit: past N invocations a connection gets SB_ERR_RATE_LIMITED, another connection of the same user is unaffected, and the bucket refills', async () => {
  const token = await fetchToken(limited.url, 'flooder');
  const flooder = await connect(limited, '/testhub', { token });
  const sameUser = await connect(limited, '/testhub', { token });
  const other = await connect(limited, '/testhub');
  opened.push(flooder, sameUser, other);

  const outcomes = await burst(flooder, 3 * RATE);
  const ok = outcomes.filter((o) => typeof o === 'string');
  const refused = outcomes.filter((o): o is Error => o instanceof Error);
  assert.equal(ok.length, RATE, `the first ${RATE} pass`);
  assert.deepEqual(
    ok,
    Array.from({ length: RATE }, (_, i) => `m${i}`),
  );
  assert.equal(refused.length, 2 * RATE);
  for (const error of refused) assert.match(error.message, /^SB_ERR_RATE_LIMITED\b/);

  // Per connection only (perUser: false): the same user's other connection and an anonymous one
  // still get their whole burst.
  for (const connection of [sameUser, other]) {
    const theirs = await burst(connection, RATE);
    assert.ok(
      theirs.every((o) => typeof o === 'string'),
      String(theirs.find((o) => o instanceof Error)),
    );
  }

  // One second later the flooder's bucket is full again.
  await sleep(1_100);
  assert.equal(await flooder.invoke('Echo', 'again'), 'again');
});

test('without --rate-limit nothing is limited', async () => {
  const connection = await connect(negotiateLimited, '/testhub');
  opened.push(connection);
  const outcomes = await burst(connection, 50);
  assert.ok(outcomes.every((o) => typeof o === 'string'));
});

test('--negotiate-rate: past N negotiates per second an IP gets 429 "Too many negotiate requests."', async () => {
  // One negotiate was spent by the previous test's connection; spend the rest of the burst.
  const statuses: number[] = [];
  let body = '';
  for (let i = 0; i < 3; i++) {
    const response = await fetch(`${negotiateLimited.url}/testhub/negotiate?negotiateVersion=1`, {
      method: 'POST',
    });
    statuses.push(response.status);
    if (response.status === 429) body = await response.text();
    else await response.body?.cancel();
  }
  assert.ok(statuses.includes(429), `statuses: ${statuses.join(', ')}`);
  assert.match(body, /Too many negotiate requests\./);
  // The rate-limited server without --negotiate-rate negotiates freely.
  for (let i = 0; i < 5; i++) {
    const response = await fetch(`${limited.url}/testhub/negotiate?negotiateVersion=1`, { method: 'POST' });
    assert.equal(response.status, 200);
    await response.body?.cancel();
  }
});

test('--max-connections-per-user: a user past N connections is refused at negotiate; others are not', async () => {
  const [alice, bob] = await Promise.all([fetchToken(capped.url, 'alice'), fetchToken(capped.url, 'bob')]);
  const first = await connect(capped, '/testhub', { token: alice });
  const second = await connect(capped, '/testhub', { token: alice });
  opened.push(first, second);
  await assert.rejects(connect(capped, '/testhub', { token: alice }), {
    message:
      "Failed to complete negotiation with the server: Error: Too many connections for this user.: Status code '429'",
  });
  // Another user and anonymous connections are not capped by alice's count.
  const others = await Promise.all([
    connect(capped, '/testhub', { token: bob }),
    connect(capped, '/testhub'),
    connect(capped, '/testhub'),
    connect(capped, '/testhub'),
  ]);
  opened.push(...others);
  // A slot comes back when one of alice's connections closes.
  await first.stop();
  let third: HubConnection | undefined;
  for (let i = 0; i < 50 && !third; i++) {
    third = await connect(capped, '/testhub', { token: alice }).catch(() => undefined);
    if (!third) await sleep(20);
  }
  assert.ok(third, 'alice can connect again');
  opened.push(third);
  assert.equal(await third.invoke('GetUserIdentifier'), 'alice');
});

test('--request-headers-timeout-ms and --max-sockets-per-ip reach the server', async () => {
  const server = await startQuietServer({ requestHeadersTimeoutMs: 200, maxSocketsPerIp: 2 });
  try {
    const { port } = new URL(server.url);
    const open = async (send: string) => {
      const socket = createConnection(Number(port), '127.0.0.1');
      await once(socket, 'connect');
      let received = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
      });
      socket.on('error', () => undefined);
      const closed = once(socket, 'close');
      if (send) socket.write(send);
      return { socket, closed, received: () => received };
    };
    const halfSent = await open('POST /testhub/negotiate HTTP/1.1\r\nHo');
    const second = await open('');
    const third = await open('');
    await third.closed;
    assert.match(third.received(), /^HTTP\/1\.1 429 /);
    await Promise.all([halfSent.closed, second.closed]);
    assert.match(halfSent.received(), /^HTTP\/1\.1 408 /);
  } finally {
    await server.close();
  }
});
