#!/usr/bin/env node
// Runs the example host app beside the chat, wired together (`npm run example:host-app`, which
// builds first):
//
//   1. makes a webhook secret (whsec_ + 32 random bytes in base64) and a data directory for the chat
//      (a new temporary one, removed at the end, unless CHAT_DATA_DIR is given),
//   2. creates a server API key with the chat's own command line (`create-api-key host-app`),
//   3. starts the chat (apps/chat-server/dist/main.js) with AUTH_ISSUER = the host app's URL,
//      ALLOWED_ORIGINS = that origin, WEBHOOK_URL = its /webhooks and the secret,
//   4. starts the host app with CHAT_URL, CHAT_API_KEY and CHAT_WEBHOOK_SECRET,
//
// then prints where to go. Ctrl-C stops both. CHAT_PORT (3000) and HOST_APP_PORT (4000) move them.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const chatMain = join(root, 'apps', 'chat-server', 'dist', 'main.js');
const hostMain = join(root, 'examples', 'host-app', 'src', 'main.ts');
if (!existsSync(chatMain)) {
  console.error('The chat is not built: run `npm run build` first (npm run example:host-app does).');
  process.exit(1);
}

const chatPort = Number(process.env.CHAT_PORT ?? 3000);
const hostPort = Number(process.env.HOST_APP_PORT ?? 4000);
const chatUrl = `http://localhost:${chatPort}`;
const hostUrl = `http://localhost:${hostPort}`;
const keepData = Boolean(process.env.CHAT_DATA_DIR);
const dataDir = process.env.CHAT_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'switchboard-host-app-chat-'));
mkdirSync(dataDir, { recursive: true });
const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;

const chatEnv = {
  ...process.env,
  PORT: String(chatPort),
  DATA_DIR: dataDir,
  WORKERS: process.env.WORKERS ?? '1',
  AUTH_ISSUER: hostUrl,
  ALLOWED_ORIGINS: hostUrl,
  FRAME_ANCESTORS: hostUrl,
  WEBHOOK_URL: `${hostUrl}/webhooks`,
  WEBHOOK_SECRET: webhookSecret,
};

/** Runs a command to its end; answers its standard output. */
function output(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`${args.join(' ')}: exit ${code}`)),
    );
  });
}

/** Starts a long-running process whose lines are shown with a prefix. */
function start(name, args, env) {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on('line', (line) => console.log(`[${name}] ${line}`));
  return child;
}

const children = [];
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
  if (!keepData) rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

// A key for the host app's backend. With a kept data directory, the previous run's key goes first.
if (keepData) await output([chatMain, 'revoke-api-key', 'host-app'], chatEnv).catch(() => undefined);
const keyOutput = await output([chatMain, 'create-api-key', 'host-app'], chatEnv);
const apiKey = keyOutput.trim().split('\n').at(-1).trim();

const chat = start('chat', [chatMain], chatEnv);
children.push(chat);
chat.on('exit', (code) => {
  if (!stopping) {
    console.error(`the chat stopped (exit ${code})`);
    stop(1);
  }
});

// The host app starts once the chat answers (it fetches nothing from the chat at start, but the
// widget and the project rooms need it).
const deadline = Date.now() + 60_000;
for (;;) {
  const ready = await fetch(`${chatUrl}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
  if (ready) break;
  if (stopping) await new Promise(() => {});
  if (Date.now() > deadline) {
    console.error(`the chat did not answer at ${chatUrl}/readyz within 60 s`);
    await stop(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}

const host = start('host-app', ['--import', 'tsx', hostMain], {
  ...process.env,
  PORT: String(hostPort),
  HOST_APP_URL: hostUrl,
  CHAT_URL: chatUrl,
  CHAT_API_KEY: apiKey,
  CHAT_WEBHOOK_SECRET: webhookSecret,
});
children.push(host);
host.on('exit', (code) => {
  if (!stopping) {
    console.error(`the host app stopped (exit ${code})`);
    stop(1);
  }
});

console.log(`
  The chat:      ${chatUrl}   (data in ${dataDir}${keepData ? '' : ', removed at the end'})
  The host app:  ${hostUrl}   <- open this; sign in as alice, bob, sam (agent) or ada (admin)
  Ctrl-C stops both.
`);
