// `--https`: the conformance server also serves HTTPS on a second port with a self-signed
// certificate made at start. The official client, trusting that certificate the way the
// functional tests' HTTPS cells need (NODE_EXTRA_CA_CERTS, never by turning checks off), invokes
// and streams over every transport and protocol; a client that does not trust it is refused.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parseConformanceArgs } from '@switchboard/conformance';
import { startQuietServer } from './helpers.ts';

const root = new URL('../..', import.meta.url).pathname;

test('flags: --https, --https-port, --https-cert-file', () => {
  assert.deepEqual(
    parseConformanceArgs(['--https', '--https-port', '0', '--https-cert-file', '/tmp/c.pem']),
    {
      kind: 'run',
      options: {
        port: 3000,
        host: '127.0.0.1',
        tokenLifetimeSeconds: 5,
        https: true,
        httpsPort: 0,
        httpsCertFile: '/tmp/c.pem',
      },
    },
  );
  assert.deepEqual(parseConformanceArgs(['--https-port', '8443']), {
    kind: 'error',
    message: '--https-port and --https-cert-file need --https.',
  });
  assert.deepEqual(parseConformanceArgs(['--https', '--https-port', '70000']), {
    kind: 'error',
    message: "--https-port must be an integer from 0 to 65535, got '70000'.",
  });
});

/** A negotiate POST over TLS: its status, or the TLS error's code. */
function negotiateCookies(url: string, ca: string | undefined): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/testhub/negotiate?negotiateVersion=1`, {
      method: 'POST',
      ...(ca ? { ca } : {}),
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.headers['set-cookie'] ?? []);
    });
    req.on('error', reject);
    req.end();
  });
}

function negotiate(url: string, ca?: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(`${url}/testhub/negotiate?negotiateVersion=1`, {
      method: 'POST',
      ...(ca ? { ca } : {}),
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

// Runs in a child process so that NODE_EXTRA_CA_CERTS (read at start) makes Node trust the
// certificate, as a run of the official functional tests does.
const CLIENT = `
import { HttpTransportType, HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
const cells = [
  ['WebSockets', 'json'], ['WebSockets', 'messagepack'], ['ServerSentEvents', 'json'],
  ['LongPolling', 'json'], ['LongPolling', 'messagepack'],
];
for (const [transport, protocol] of cells) {
  let builder = new HubConnectionBuilder()
    .withUrl(process.env.SERVER_URL + '/testhub', { transport: HttpTransportType[transport] })
    .configureLogging(LogLevel.None);
  if (protocol === 'messagepack') builder = builder.withHubProtocol(new MessagePackHubProtocol());
  const connection = builder.build();
  await connection.start();
  const echo = await connection.invoke('Echo', 'over TLS');
  const active = await connection.invoke('GetActiveTransportName');
  const cookie = await connection.invoke('GetCookie', 'testCookie');
  const items = [];
  await new Promise((resolve, reject) =>
    connection.stream('Stream').subscribe({ next: (i) => items.push(i), complete: resolve, error: reject }),
  );
  await connection.stop();
  console.log(JSON.stringify({ transport, protocol, echo, active, cookie, items }));
}
`;

test('the official client over HTTPS on every transport and protocol, trusting the certificate', async () => {
  const certFile = join(tmpdir(), `switchboard-conformance-${randomUUID()}.pem`);
  const server = await startQuietServer({ https: true, httpsCertFile: certFile });
  try {
    assert.ok(server.httpsUrl?.startsWith('https://127.0.0.1:'));
    assert.notEqual(server.httpsUrl, server.url.replace('http:', 'https:'), 'a second port');
    assert.equal(readFileSync(certFile, 'utf8'), server.certificate);
    assert.match(server.certificate ?? '', /^-----BEGIN CERTIFICATE-----/);

    // TLS is real: refused without the certificate, accepted with it; HTTP still answers.
    assert.equal(await negotiate(server.httpsUrl!), 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(await negotiate(server.httpsUrl!, server.certificate), 200);
    // As the reference sets them over HTTPS, so that a browser page on another origin keeps them.
    for (const cookie of await negotiateCookies(server.httpsUrl!, server.certificate)) {
      assert.match(cookie, /; samesite=none; secure$/, cookie);
    }
    assert.equal(
      (await fetch(`${server.url}/testhub/negotiate?negotiateVersion=1`, { method: 'POST' })).status,
      200,
    );

    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CLIENT], {
      cwd: root,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: certFile, SERVER_URL: server.httpsUrl! },
    });
    const rows = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(rows.length, 5);
    for (const row of rows) {
      assert.equal(row.echo, 'over TLS', `${row.transport}/${row.protocol}`);
      assert.equal(row.active, row.transport);
      assert.equal(row.cookie, 'testValue', 'the negotiate cookie comes back over HTTPS');
      assert.deepEqual(row.items, ['a', 'b', 'c']);
    }
  } finally {
    await server.close();
    rmSync(certFile, { force: true });
  }
});

test('the CLI prints the HTTPS listening line after the HTTP one', async () => {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'conformance/src/main.ts', '--port', '0', '--https'],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (/^Now listening on: https:/m.test(out)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
    });
    const lines = out.trim().split('\n');
    assert.match(lines[0]!, /^Now listening on: http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(lines[1]!, /^Now listening on: https:\/\/127\.0\.0\.1:\d+$/);
    const httpsUrl = lines[1]!.slice('Now listening on: '.length);
    assert.equal(await negotiate(httpsUrl), 'DEPTH_ZERO_SELF_SIGNED_CERT');
  } finally {
    child.kill('SIGTERM');
  }
});
