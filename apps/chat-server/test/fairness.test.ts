// Issue #18, finding 1 on the chat: one user pipelining thousands of listRooms on four WebSockets
// (each batch in one frame) does not hold everyone else. The chat server runs in its own process
// on SQLite, so the order the clients see is the order the server worked in. The test asserts an
// order, not a time: the unrelated user's answer arrives while the abusive connections still have
// most of their invocations unanswered. The latency figure is the benchmark's (bench/chat-fairness.mjs).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MessageType } from '@switchboard/protocol';
import { connectClient, RawClient } from '@switchboard/testkit';

const ROOT = new URL('../../../', import.meta.url).pathname;
const MAIN = new URL('../src/main.ts', import.meta.url).pathname;

/** Starts the chat's CLI on a free port with `env`; resolves to its URL. */
async function startProcess(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stderr!.on('data', (d) => (text = (text + d).slice(-10_000)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the chat did not start in 60 s: ${text}`)), 60_000);
    child.stdout!.on('data', (d) => {
      text = (text + d).slice(-10_000);
      const m = /listening on (http:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the chat exited (${code}) before listening: ${text}`));
    });
  });
  return { url, child };
}

async function register(url: string, name: string): Promise<string> {
  const response = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: `${name}${process.pid}`, password: 'password123', displayName: name }),
  });
  assert.equal(response.status, 201);
  return ((await response.json()) as { token: string }).token;
}

const CONNECTIONS = 4;
const PER_FRAME = 5_000;

test('fairness: an unrelated user is answered while one user’s four connections still have thousands of listRooms queued', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-chat-fair-'));
  // The invocation rate limit is off here: this is about the server's turns, not the limit that
  // would refuse most of the flood.
  const { url, child } = await startProcess({ DATA_DIR: dataDir, INVOKE_RATE_LIMIT: '0' });
  const raws: RawClient[] = [];
  try {
    const abuserToken = await register(url, 'abuser');
    const victimToken = await register(url, 'victim');
    const abuser = await connectClient(`${url}/hubs/chat`, { accessTokenFactory: () => abuserToken });
    const room = await abuser.invoke('createRoom', { name: 'busy', isPrivate: false });
    await abuser.invoke('sendMessage', { roomId: room.id, text: 'something to list', clientMessageId: 'c1' });
    await abuser.stop();
    const victim = await connectClient(`${url}/hubs/chat`, { accessTokenFactory: () => victimToken });
    await victim.invoke('listRooms');
    for (let i = 0; i < CONNECTIONS; i++) {
      raws.push(await RawClient.connect(`${url}/hubs/chat?access_token=${encodeURIComponent(abuserToken)}`));
    }
    const answered = () =>
      raws.reduce((n, r) => n + r.messages.filter((m) => m.type === MessageType.Completion).length, 0);
    raws.forEach((raw, c) => {
      let frame = '';
      for (let i = 0; i < PER_FRAME; i++) {
        frame += `${JSON.stringify({ type: 1, invocationId: `${c}-${i}`, target: 'listRooms', arguments: [] })}\u001e`;
      }
      raw.sendRaw(frame);
    });
    const rooms = await victim.invoke('listRooms');
    const done = answered();
    assert.deepEqual(rooms, []);
    // Holding the loop, the server would answer at least one whole frame (5,000) first.
    assert.ok(
      done < PER_FRAME / 5,
      `the victim was answered after ${done} of ${CONNECTIONS * PER_FRAME} abusive invocations`,
    );
    await victim.stop();
  } finally {
    for (const raw of raws) raw.ws.terminate();
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
