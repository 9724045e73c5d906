// Issue #15: the API key commands of the CLI (the key is the last line, shown once; listing never
// shows it; a revoked key stops working at once on a running server over the same storage) and
// the validation of the AUTH_* variables at start.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ChatError, cleanHostName, createChatApp, loadConfig } from '@switchboard/chat-server';
import { silentLogger } from '@switchboard/server';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const ROOT = new URL('../../..', import.meta.url).pathname;

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

test('create-api-key prints the key once as the last line; list-api-keys; revoke-api-key works at once', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hsth-cli-'));
  const env = { DATA_DIR: dataDir };
  const app = await createChatApp(loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir }), {
    logger: silentLogger,
    drainTimeoutMs: 100,
  });
  try {
    const url = await app.listen();
    const created = await run(['create-api-key', 'hsth-backend'], env);
    assert.equal(created.code, 0, created.err);
    const lines = created.out.trimEnd().split('\n');
    const key = lines[lines.length - 1]!;
    assert.match(key, /^sbk_[A-Za-z0-9_-]{43}$/);
    const call = () =>
      fetch(`${url}/api/v1/support/requests`, { headers: { Authorization: `Bearer ${key}` } });
    assert.equal((await call()).status, 200);

    const taken = await run(['create-api-key', 'hsth-backend'], env);
    assert.notEqual(taken.code, 0);
    assert.match(taken.err, /exists already/);

    const listed = await run(['list-api-keys'], env);
    assert.equal(listed.code, 0);
    assert.match(listed.out, /^hsth-backend\tsbk_/m);
    assert.ok(!listed.out.includes(key), 'the key is never shown again');

    const revoked = await run(['revoke-api-key', 'hsth-backend'], env);
    assert.equal(revoked.code, 0, revoked.err);
    const after = await call();
    assert.equal(after.status, 401);
    assert.equal((await after.json()).error.code, 'SB_CHAT_API_KEY_INVALID');
    assert.equal((await run(['revoke-api-key', 'hsth-backend'], env)).code, 1);
    assert.equal((await run(['create-api-key'], env)).code, 2);
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('AUTH_* variables are checked at start: SB_CHAT_CONFIG_INVALID naming the variable', () => {
  const base = { AUTH_ISSUER: 'https://idp.example' };
  const cases: [Record<string, string>, string][] = [
    [{ AUTH_JWKS_URL: 'https://idp.example/jwks.json' }, 'AUTH_ISSUER'],
    [{ AUTH_AUDIENCE: 'chat' }, 'AUTH_ISSUER'],
    [{ ...base, AUTH_JWKS_URL: 'not a url' }, 'AUTH_JWKS_URL'],
    [{ AUTH_ISSUER: 'my-app' }, 'AUTH_ISSUER'],
    [{ ...base, AUTH_HS256_SECRET: 'short' }, 'AUTH_HS256_SECRET'],
    [
      {
        ...base,
        AUTH_HS256_SECRET: 'the-same-secret-0123456789abcdefgh',
        JWT_SECRET: 'the-same-secret-0123456789abcdefgh',
      },
      'AUTH_HS256_SECRET',
    ],
    [{ ...base, AUTH_CLAIM_NAME: 'a b' }, 'AUTH_CLAIM_NAME'],
    [{ ...base, AUTH_JWKS_COOLDOWN_MS: '-1' }, 'AUTH_JWKS_COOLDOWN_MS'],
  ];
  for (const [env, field] of cases) {
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ChatError && e.code === 'SB_CHAT_CONFIG_INVALID' && e.field === field,
      JSON.stringify(env),
    );
  }
  assert.equal(loadConfig({}).hostAuth, undefined);
  const ok = loadConfig({ AUTH_ISSUER: 'my-app', AUTH_HS256_SECRET: 'x'.repeat(32), AUTH_AUDIENCE: 'chat' });
  assert.deepEqual(
    [
      ok.hostAuth?.issuer,
      ok.hostAuth?.audience,
      ok.hostAuth?.discover,
      ok.hostAuth?.claimName,
      ok.hostAuth?.claimRole,
    ],
    ['my-app', 'chat', false, 'name', 'role'],
  );
  assert.equal(loadConfig(base).hostAuth?.discover, true);
});

test('names from the host are cleaned: controls, bidi overrides and invisible characters go; NFC; 64 characters', () => {
  assert.equal(cleanHostName('Ann\u202E\u2066 B\u0000\u200Bob\n'), 'Ann Bob');
  assert.equal(cleanHostName('e\u0301'), '\u00e9');
  assert.equal(cleanHostName('\u202E\u0007'), undefined);
  assert.equal(cleanHostName(42), undefined);
  assert.equal([...(cleanHostName('😀'.repeat(100)) ?? '')].length, 64);
});
