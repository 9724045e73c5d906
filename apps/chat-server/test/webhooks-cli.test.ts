// The webhooks' command line: `add-webhook URL` prints the secret as its last line (a valid
// Standard Webhooks secret), `list-webhooks` shows the endpoints, `remove-webhook ID` removes one;
// the endpoints are the storage's, so a server on the same data sends to them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createChatApp, loadConfig, webhookSecretProblem } from '@switchboard/chat-server';
import { silentLogger } from '@switchboard/server';
import { waitFor } from '@switchboard/testkit';
import { TEST_ENV } from './helpers.ts';
import { startReceiver, verify } from './webhook-receiver.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'whkh-cli-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function chat(...args: string[]): { status: number | null; lines: string[]; stderr: string } {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, ...args], {
    env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, lines: r.stdout.trim().split('\n'), stderr: r.stderr };
}

test('add-webhook, list-webhooks, remove-webhook', async () => {
  const receiver = await startReceiver();
  try {
    const added = chat('add-webhook', receiver.url);
    assert.equal(added.status, 0, added.stderr);
    const secret = added.lines.at(-1)!;
    assert.equal(webhookSecretProblem(secret), undefined, `the last line is a secret: ${secret}`);
    const id = /endpoint (whep_[0-9a-f]{16})/.exec(added.lines.join('\n'))![1]!;
    const other = chat('add-webhook', 'http://127.0.0.1:9/other');
    const otherId = /endpoint (whep_[0-9a-f]{16})/.exec(other.lines.join('\n'))![1]!;
    assert.notEqual(other.lines.at(-1), secret, 'each endpoint has its own secret');

    const listed = chat('list-webhooks');
    assert.equal(listed.status, 0);
    assert.equal(listed.lines.length, 2);
    assert.match(
      listed.lines.join('\n'),
      new RegExp(`${id}\\t${receiver.url.replace(/[/.]/g, '\\$&')}\\tenabled`),
    );
    assert.ok(!listed.lines.join('\n').includes(secret), 'the list shows no secret');

    const removed = chat('remove-webhook', otherId);
    assert.equal(removed.status, 0);
    assert.equal(chat('list-webhooks').lines.length, 1);
    const again = chat('remove-webhook', otherId);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /SB_CHAT_NOT_FOUND/);

    const bad = chat('add-webhook', 'ftp://example.com/x');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /SB_CHAT_INVALID_INPUT: URL must be an http or https URL/);
    assert.equal(chat('add-webhook').status, 2);

    // A server on the same data sends to the endpoint added, signed with its secret.
    const app = await createChatApp(
      loadConfig({ ...TEST_ENV, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir }),
      {
        logger: silentLogger,
        webhooks: { pollMs: 50 },
      },
    );
    try {
      const at = new Date().toISOString();
      await app.storage.createUser({
        id: 'whkh-cli-user',
        username: 'whkhcliuser',
        displayName: 'C',
        passwordHash: null,
        role: 'user',
        isGuest: false,
        createdAt: at,
      });
      await app.storage.createRoom(
        {
          id: 'whkh-cli-room',
          name: 'whkh cli',
          isPrivate: false,
          kind: 'room',
          ownerId: 'whkh-cli-user',
          createdAt: at,
        },
        ['whkh-cli-user'],
      );
      await waitFor(() => receiver.received.length >= 1, 10_000, 'a webhook');
      assert.equal(receiver.received[0]!.json.type, 'room.member_added');
      verify(secret, receiver.received[0]!);
    } finally {
      await app.close();
    }
  } finally {
    await receiver.close();
  }
});
