// The conformance CLI as outside suites run it: flags, the "Now listening on:" line, tokens shared
// by two processes with the same --jwt-secret, and a clean exit on SIGTERM and SIGINT.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { parseConformanceArgs } from '@switchboard/conformance';
import { connect, fetchToken } from './helpers.ts';

const root = new URL('../..', import.meta.url).pathname;

interface Cli {
  readonly child: ChildProcess;
  readonly url: string;
  stdout(): string;
  stderr(): string;
}

const started: ChildProcess[] = [];
after(() => {
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Runs the CLI from its TypeScript source, as `node conformance/dist/main.js` would run. */
function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'conformance/src/main.ts', ...args],
    { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.push(child);
  return child;
}

/** Starts the CLI and waits for its listening line. */
async function startCli(args: string[], env: Record<string, string> = {}): Promise<Cli> {
  const child = spawnCli(args, env);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    // Bounded by a failure, not a timing: a loaded machine can take many seconds to start tsx.
    const timer = setTimeout(() => reject(new Error(`no listening line; stderr: ${err}`)), 45_000);
    const check = () => {
      const match = /^Now listening on: (http:\/\/\S+)$/m.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening; stderr: ${err}`));
    });
  });
  return { child, url, stdout: () => out, stderr: () => err };
}

async function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = await once(child, 'exit');
  return code as number | null;
}

test('flags: defaults, values, JWT_SECRET from the environment, errors', () => {
  assert.deepEqual(parseConformanceArgs([]), {
    kind: 'run',
    options: { port: 3000, host: '127.0.0.1', tokenLifetimeSeconds: 5 },
  });
  assert.deepEqual(
    parseConformanceArgs(
      ['--port', '0', '--host', '0.0.0.0', '--jwt-secret', 's', '--token-lifetime-s', '60'],
      { JWT_SECRET: 'env' },
    ),
    { kind: 'run', options: { port: 0, host: '0.0.0.0', tokenLifetimeSeconds: 60, jwtSecret: 's' } },
  );
  assert.deepEqual(parseConformanceArgs(['--port=8080'], { JWT_SECRET: 'env' }), {
    kind: 'run',
    options: { port: 8080, host: '127.0.0.1', tokenLifetimeSeconds: 5, jwtSecret: 'env' },
  });
  assert.deepEqual(
    parseConformanceArgs([
      '--presence-grace-ms',
      '0',
      '--rate-limit',
      '10',
      '--negotiate-rate=5',
      '--max-connections-per-user',
      '3',
      '--request-headers-timeout-ms',
      '2000',
      '--request-body-timeout-ms=3000',
      '--max-sockets-per-ip',
      '50',
      '--trust-proxy',
      '1',
      '--max-queued-invocations',
      '16',
      '--max-messages-per-turn',
      '32',
    ]),
    {
      kind: 'run',
      options: {
        port: 3000,
        host: '127.0.0.1',
        tokenLifetimeSeconds: 5,
        presenceGraceMs: 0,
        rateLimit: 10,
        negotiateRate: 5,
        maxConnectionsPerUser: 3,
        requestHeadersTimeoutMs: 2000,
        requestBodyTimeoutMs: 3000,
        maxSocketsPerIp: 50,
        trustProxy: 1,
        maxQueuedInvocations: 16,
        maxMessagesPerTurn: 32,
      },
    },
  );
  assert.deepEqual(parseConformanceArgs(['--help']), { kind: 'help' });
  for (const bad of [
    ['--port', 'x'],
    ['--port', '70000'],
    ['--port', '-1'],
    ['--token-lifetime-s', '0'],
    ['--jwt-secret', ''],
    ['--presence-grace-ms', '-1'],
    ['--rate-limit', '0'],
    ['--negotiate-rate', 'x'],
    ['--max-connections-per-user', '0'],
    ['--request-headers-timeout-ms', '0'],
    ['--max-sockets-per-ip', 'x'],
    ['--max-messages-per-turn', '0'],
    ['--nope'],
    ['positional'],
  ]) {
    assert.equal(parseConformanceArgs(bad).kind, 'error', bad.join(' '));
  }
});

test('flags: --workers N or auto (default: one process); --node-id and --lease-ms with workers need no backplane', () => {
  const none = parseConformanceArgs([]);
  assert.equal(none.kind === 'run' && none.options.workers, undefined);
  const three = parseConformanceArgs(['--workers', '3', '--node-id', 'box', '--lease-ms', '2000']);
  assert.equal(three.kind === 'run' && three.options.workers, 3);
  assert.equal(three.kind === 'run' && three.options.nodeId, 'box');
  const auto = parseConformanceArgs(['--workers', 'auto']);
  assert.equal(auto.kind === 'run' && auto.options.workers, 'auto');
  for (const bad of [
    ['--workers', '0'],
    ['--workers', 'many'],
    ['--workers', ''],
  ]) {
    const parsed = parseConformanceArgs(bad);
    assert.equal(parsed.kind, 'error', bad.join(' '));
    assert.match(parsed.kind === 'error' ? parsed.message : '', /--workers/);
  }
  assert.equal(parseConformanceArgs(['--workers', '1', '--node-id', 'box']).kind, 'error');
});

test('flags: --stateful-reconnect turns on the server option, off by default', async () => {
  const on = parseConformanceArgs(['--stateful-reconnect']);
  assert.equal(on.kind === 'run' && on.options.statefulReconnect, true);
  const off = parseConformanceArgs([]);
  assert.equal(off.kind === 'run' && off.options.statefulReconnect, undefined);
  const { startConformanceServer } = await import('@switchboard/conformance');
  for (const statefulReconnect of [true, false]) {
    const server = await startConformanceServer({ port: 0, statefulReconnect });
    try {
      const res = await fetch(
        `${server.url}/testhub/negotiate?negotiateVersion=1&useStatefulReconnect=true`,
        {
          method: 'POST',
        },
      );
      const body = (await res.json()) as { useStatefulReconnect?: boolean };
      assert.equal(body.useStatefulReconnect === true, statefulReconnect);
    } finally {
      await server.close();
    }
  }
});

test('flags: the PostgreSQL backplane from --postgres or BACKPLANE=postgres with BACKPLANE_URL or DATABASE_URL', () => {
  const base = { port: 3000, host: '127.0.0.1', tokenLifetimeSeconds: 5 };
  assert.deepEqual(
    parseConformanceArgs(['--postgres', 'postgres://db/a', '--prefix', 'blue:', '--node-id', 'n1']),
    {
      kind: 'run',
      options: { ...base, postgres: 'postgres://db/a', prefix: 'blue:', nodeId: 'n1' },
    },
  );
  assert.deepEqual(
    parseConformanceArgs([], {
      BACKPLANE: 'postgres',
      BACKPLANE_URL: 'postgres://db/b',
      DATABASE_URL: 'postgres://db/c',
    }),
    { kind: 'run', options: { ...base, postgres: 'postgres://db/b' } },
  );
  assert.deepEqual(parseConformanceArgs([], { BACKPLANE: 'postgres', DATABASE_URL: 'postgres://db/c' }), {
    kind: 'run',
    options: { ...base, postgres: 'postgres://db/c' },
  });
  assert.deepEqual(parseConformanceArgs([], { DATABASE_URL: 'postgres://db/c' }), {
    kind: 'run',
    options: base,
  });
  for (const [args, env] of [
    [[], { BACKPLANE: 'postgres' }],
    [[], { BACKPLANE: 'kafka', DATABASE_URL: 'postgres://db/c' }],
    [['--postgres', ''], {}],
    [['--postgres', 'postgres://db/a', '--redis', 'redis://r'], {}],
  ] as const) {
    const parsed = parseConformanceArgs(args, env);
    assert.equal(parsed.kind, 'error', `${args.join(' ')} ${JSON.stringify(env)}`);
  }
});

test('flags: the NATS backplane from --nats or BACKPLANE=nats with BACKPLANE_URL or NATS_URL', () => {
  const base = { port: 3000, host: '127.0.0.1', tokenLifetimeSeconds: 5 };
  assert.deepEqual(
    parseConformanceArgs(['--nats', 'nats://n:4222', '--prefix', 'blue:', '--node-id', 'n1']),
    {
      kind: 'run',
      options: { ...base, nats: 'nats://n:4222', prefix: 'blue:', nodeId: 'n1' },
    },
  );
  assert.deepEqual(
    parseConformanceArgs([], {
      BACKPLANE: 'nats',
      BACKPLANE_URL: 'nats://b:4222',
      NATS_URL: 'nats://c:4222',
    }),
    { kind: 'run', options: { ...base, nats: 'nats://b:4222' } },
  );
  assert.deepEqual(
    parseConformanceArgs([], { BACKPLANE: 'NATS', NATS_URL: 'nats://c:4222', REDIS_URL: 'redis://r' }),
    { kind: 'run', options: { ...base, nats: 'nats://c:4222' } },
    'BACKPLANE=nats chooses NATS over a REDIS_URL set for something else',
  );
  assert.deepEqual(parseConformanceArgs([], { NATS_URL: 'nats://c:4222' }), { kind: 'run', options: base });
  for (const [args, env] of [
    [[], { BACKPLANE: 'nats' }],
    [['--nats', ''], {}],
    [['--nats', 'nats://n', '--redis', 'redis://r'], {}],
    [['--nats', 'nats://n', '--postgres', 'postgres://db/a'], {}],
  ] as const) {
    const parsed = parseConformanceArgs(args, env);
    assert.equal(parsed.kind, 'error', `${args.join(' ')} ${JSON.stringify(env)}`);
  }
});

// Every process starts at once (each takes a while to load TypeScript), the tests then use them.
let a: Cli;
let b: Cli;
let badFlag: { child: ChildProcess; stderr(): string };

before(async () => {
  const child = spawnCli(['--port', 'nope'], {});
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  badFlag = { child, stderr: () => err };
  [a, b] = await Promise.all([
    startCli([
      '--port',
      '0',
      '--jwt-secret',
      'shared-secret',
      '--rate-limit',
      '2',
      '--max-connections-per-user',
      '1',
      '--negotiate-rate',
      '100',
      '--presence-grace-ms',
      '0',
    ]),
    startCli(['--port', '0'], { JWT_SECRET: 'shared-secret' }),
  ]);
});

test('flags: --advertise-url (or ADVERTISE_URL) in a cluster; an http(s) origin', () => {
  const parsed = parseConformanceArgs([
    '--redis',
    'redis://r:6379',
    '--advertise-url',
    'http://10.0.0.5:3000',
  ]);
  assert.equal(parsed.kind === 'run' && parsed.options.advertiseUrl, 'http://10.0.0.5:3000');
  const fromEnv = parseConformanceArgs(['--redis', 'redis://r:6379'], { ADVERTISE_URL: 'https://node1:443' });
  assert.equal(fromEnv.kind === 'run' && fromEnv.options.advertiseUrl, 'https://node1:443');
  for (const bad of [
    ['--advertise-url', 'http://10.0.0.5:3000'],
    ['--redis', 'redis://r:6379', '--advertise-url', 'ftp://x'],
    ['--redis', 'redis://r:6379', '--advertise-url', 'http://x/path'],
    ['--redis', 'redis://r:6379', '--advertise-url', ''],
  ]) {
    assert.equal(parseConformanceArgs(bad).kind, 'error', bad.join(' '));
  }
});

test('two processes with the same --jwt-secret accept each other’s tokens; SIGTERM and SIGINT exit 0', async () => {
  assert.match(a.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(a.url, b.url);

  const fromA = await fetchToken(a.url, 'alice');
  const onB = await connect(b.url, '/authorizedhub', { token: fromA });
  const onBTestHub = await connect(b.url, '/testhub', { token: fromA });
  assert.equal(await onB.invoke('Echo', 'cross'), 'cross');
  assert.equal(await onBTestHub.invoke('GetUserIdentifier'), 'alice');
  await onB.stop();

  // The limit flags reach the server: one connection per user, two invocations per second.
  const onA = await connect(a.url, '/testhub', { token: fromA });
  await assert.rejects(connect(a.url, '/testhub', { token: fromA }), /Too many connections for this user/);
  const outcomes = await Promise.allSettled([1, 2, 3, 4].map((n) => onA.invoke('Echo', n)));
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['fulfilled', 'fulfilled', 'rejected', 'rejected'],
  );
  await onA.stop();

  // A live connection drains on SIGTERM: the client is told to close, the process exits 0.
  const closed = new Promise<Error | undefined>((resolve) => onBTestHub.onclose(resolve));
  b.child.kill('SIGTERM');
  a.child.kill('SIGINT');
  assert.equal(await exitCode(b.child), 0, b.stderr());
  assert.equal(await exitCode(a.child), 0, a.stderr());
  assert.equal(await closed, undefined);
  assert.equal(b.stdout().trim().split('\n').length, 1, 'only the listening line on stdout');
});

test('a bad flag exits 2 with the usage on stderr', async () => {
  assert.equal(await exitCode(badFlag.child), 2);
  assert.match(badFlag.stderr(), /--port must be an integer/);
  assert.match(badFlag.stderr(), /Usage:/);
});
