// The `switchboard` command: --help lists every flag and variable, a bad configuration is refused
// at start naming its field, the environment and a config file configure the service, and it
// prints "Now listening on: http://HOST:PORT" once listening.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/cli.ts';
import { connectHub, rest, runCli, startService } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-cli-'));

function configFile(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

test('--help lists every flag and environment variable', async () => {
  const { code, stdout } = await runCli(['serve', '--help']);
  assert.equal(code, 0);
  for (const word of [
    '--port',
    '--hub',
    '--access-key',
    '--upstream',
    '--config',
    '--backplane',
    '--backplane-url',
    '--cors-origin',
    '--connect-event',
    '--workers',
    '--cluster-secret',
    '--advertise-url',
    'SWITCHBOARD_WORKERS',
    'SWITCHBOARD_CLUSTER_SECRET',
    'SWITCHBOARD_ADVERTISE_URL',
    'PORT',
    'SWITCHBOARD_HUBS',
    'SWITCHBOARD_ACCESS_KEY',
    'SWITCHBOARD_UPSTREAM',
    'limits.upstreamTimeoutMs',
    'limits.maxBodyBytes',
    'redis',
    'postgres',
    'nats',
  ]) {
    assert.ok(stdout.includes(word), `--help mentions ${word}`);
  }
});

test('a bad configuration is refused at start, naming the field', async () => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--hub', 'chat'], {}, /accessKey: an access key is required/],
    [['--access-key', 'k'], {}, /hubs: at least one hub is required/],
    [['--hub', '9lives', '--access-key', 'k'], {}, /hubs\.0: must start with a letter/],
    [['--hub', 'chat', '--access-key', 'k', '--port', 'eighty'], {}, /--port: must be a whole number/],
    [['--hub', 'chat', '--access-key', 'k', '--backplane', 'redis'], {}, /backplane\.url/],
    [['--hub', 'chat', '--access-key', 'k', '--backplane', 'kafka'], {}, /backplane\.kind/],
    [
      ['--hub', 'chat', '--access-key', 'k', '--upstream', 'ftp://x/{event}'],
      {},
      /upstream: must be an http\(s\) URL/,
    ],
    [
      [],
      { SWITCHBOARD_HUBS: 'chat', SWITCHBOARD_ACCESS_KEY: 'k', PORT: '-1' },
      /PORT: must be a whole number/,
    ],
    [
      [
        '--config',
        configFile('limits.json', { hubs: ['chat'], accessKey: 'k', limits: { upstreamTimeoutMs: 0 } }),
      ],
      {},
      /limits\.upstreamTimeoutMs/,
    ],
    [['--config', configFile('typo.json', { hubs: ['chat'], accessKey: 'k', prot: 1 })], {}, /prot/],
    [['--config', configFile('broken.json', '{ not json')], {}, /not JSON/],
    [['--hub', 'chat', '--access-key', 'k', '--no-such-flag'], {}, /no-such-flag/],
    [['--hub', 'chat', '--access-key', 'k', '--workers', 'many'], {}, /--workers: must be a whole number/],
    [['--hub', 'chat', '--access-key', 'k', '--workers', '0'], {}, /workers/],
    [
      [],
      { SWITCHBOARD_HUBS: 'chat', SWITCHBOARD_ACCESS_KEY: 'k', SWITCHBOARD_WORKERS: 'x' },
      /SWITCHBOARD_WORKERS/,
    ],
    [
      ['--config', configFile('svcw-workers.json', { hubs: ['chat'], accessKey: 'k', workers: 1.5 })],
      {},
      /workers/,
    ],
    [
      ['--hub', 'chat', '--access-key', 'k', '--workers', '2', '--advertise-url', 'http://10.0.0.1:8080'],
      {},
      /advertiseUrl: names one process/,
    ],
    [['--hub', 'chat', '--access-key', 'k', '--advertise-url', 'ftp://x'], {}, /advertiseUrl/],
  ];
  for (const [args, env, expected] of cases) {
    assert.throws(() => loadConfig(args, env), expected, args.join(' '));
  }
  // And the process: exit code 2, the message on stderr, nothing listening.
  for (const [args, env, expected] of [cases[2]!, cases[8]!]) {
    const { code, stderr, stdout } = await runCli(['serve', ...args], env);
    assert.equal(code, 2, `${args.join(' ')} exits with 2`);
    assert.match(stderr, expected);
    assert.doesNotMatch(stdout, /Now listening/);
  }
});

test('the environment configures port, hubs, key and upstream; the line says where it listens', async () => {
  const service = await startService([], {
    SWITCHBOARD_HUBS: 'alpha, beta',
    SWITCHBOARD_ACCESS_KEY: 'env-key',
    SWITCHBOARD_UPSTREAM: 'http://127.0.0.1:9/{hub}/{category}/{event}',
  });
  try {
    assert.match(service.output(), /^Now listening on: http:\/\/127\.0\.0\.1:\d+\n/m);
    const r = await rest(service.baseUrl, 'env-key', 'POST', '/api/hubs/beta/:send', {
      body: { target: 'm' },
    });
    assert.equal(r.status, 202);
    const c = await connectHub(service.baseUrl, 'alpha', 'env-key', 'u');
    await c.stop();
  } finally {
    await service.stop();
  }
});

test('a config file sets hubs and several keys; flags win over it', async () => {
  const path = configFile('good.json', {
    hubs: ['fromfile', { name: 'other', connectEvent: false }],
    accessKeys: ['file-key-1', 'file-key-2'],
    cors: { origins: ['https://app.example'] },
    limits: { maxGroupNameLength: 8 },
  });
  const service = await startService(['--config', path, '--hub', 'flaghub']);
  try {
    // The flag's hub list replaces the file's.
    assert.equal(
      (
        await rest(service.baseUrl, 'file-key-2', 'POST', '/api/hubs/flaghub/:send', {
          body: { target: 'm' },
        })
      ).status,
      202,
    );
    assert.equal(
      (
        await rest(service.baseUrl, 'file-key-1', 'POST', '/api/hubs/fromfile/:send', {
          body: { target: 'm' },
        })
      ).status,
      404,
    );
    // The file's limits hold.
    assert.equal(
      (await rest(service.baseUrl, 'file-key-1', 'HEAD', '/api/hubs/flaghub/groups/123456789')).status,
      400,
    );
    // CORS for the configured origin on negotiate.
    const preflight = await fetch(`${service.baseUrl}/client/negotiate?hub=flaghub&negotiateVersion=1`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example');
  } finally {
    await service.stop();
  }
});

test('the built bin runs (npx switchboard after npm run build)', async (t) => {
  const bin = fileURLToPath(new URL('../bin/switchboard.mjs', import.meta.url));
  const dist = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
  if (!existsSync(dist)) {
    if (process.env.CI === 'true') throw new Error('packages/service/dist is missing: run npm run build');
    process.stderr.write('\n!!! SKIPPED: the built bin: run npm run build first\n\n');
    return t.skip('not built');
  }
  const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, 'serve', '--help'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout }));
  });
  assert.equal(result.code, 0);
  assert.match(result.stdout, /Usage: switchboard serve/);
});

test('svcw: workers, cluster secret and advertised URL from flags, environment and file; one worker by default', () => {
  const base = ['--hub', 'chat', '--access-key', 'k'];
  assert.equal(loadConfig(base, {}).config!.workers, 1);
  assert.equal(loadConfig([...base, '--workers', 'auto'], {}).config!.workers, 'auto');
  assert.equal(loadConfig(base, { SWITCHBOARD_WORKERS: '3' }).config!.workers, 3);
  const file = configFile('svcw-workers-ok.json', { workers: 4, clusterSecret: 'from-file' });
  const fromFile = loadConfig([...base, '--config', file], {}).config!;
  assert.equal(fromFile.workers, 4);
  assert.equal(fromFile.clusterSecret, 'from-file');
  // Flags win over the environment, which wins over the file.
  assert.equal(loadConfig([...base, '--config', file], { SWITCHBOARD_WORKERS: '2' }).config!.workers, 2);
  assert.equal(
    loadConfig([...base, '--config', file, '--workers', '1'], { SWITCHBOARD_WORKERS: '2' }).config!.workers,
    1,
  );
  const single = loadConfig([...base, '--advertise-url', 'http://10.0.0.7:8080/'], {
    SWITCHBOARD_CLUSTER_SECRET: 'shared',
  }).config!;
  assert.equal(single.advertiseUrl, 'http://10.0.0.7:8080');
  assert.equal(single.clusterSecret, 'shared');
});
