/**
 * The host app beside a real chat server for the tests: the chat on SQLite in a temporary
 * directory (prefix `hsta-`), with `AUTH_ISSUER` = the host app's URL, `ALLOWED_ORIGINS` = its
 * origin and its `/webhooks` as `WEBHOOK_URL`; the host app with a server API key of that chat and
 * the webhook secret.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKeyService, type ChatApp, createChatApp, loadConfig } from '@switchboard/chat-server';
import type { Logger } from '@switchboard/server';
import { type RunningHostApp, startHostApp } from '../src/app.ts';
import { loadHostConfig } from '../src/config.ts';

/** The demo users' password in the tests. */
export const PASSWORD = 'hsta-demo-password';

/** A chat and a host app wired together. */
export interface Pair {
  readonly chat: ChatApp;
  readonly chatUrl: string;
  readonly host: RunningHostApp;
  readonly hostUrl: string;
  /** The server API key the host app uses. */
  readonly apiKey: string;
  /** The webhook secret both share. */
  readonly secret: string;
  /** The host app's log lines. */
  readonly hostLog: string[];
  close(): Promise<void>;
}

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** Starts the chat and the host app on free ports of 127.0.0.1. */
export async function startPair(): Promise<Pair> {
  // The host app's address comes first: the chat names it as the issuer and the webhook target.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const hostUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const secret = `whsec_${randomBytes(32).toString('base64')}`;

  const dataDir = mkdtempSync(join(tmpdir(), 'hsta-chat-'));
  const chat = await createChatApp(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      AUTH_ISSUER: hostUrl,
      ALLOWED_ORIGINS: hostUrl,
      WEBHOOK_URL: `${hostUrl}/webhooks`,
      WEBHOOK_SECRET: secret,
    }),
    { logger: quiet, drainTimeoutMs: 300, webhooks: { pollMs: 100 } },
  );
  const chatUrl = await chat.listen();
  const apiKey = (await new ApiKeyService(chat.storage).create('hsta-host-app')).key;

  const hostLog: string[] = [];
  const config = loadHostConfig({
    HOST_APP_URL: hostUrl,
    CHAT_URL: chatUrl,
    CHAT_API_KEY: apiKey,
    CHAT_WEBHOOK_SECRET: secret,
    DEMO_PASSWORD: PASSWORD,
  });
  const host = await startHostApp(config, 0, { server, log: (line) => hostLog.push(line) });
  return {
    chat,
    chatUrl,
    host,
    hostUrl,
    apiKey,
    secret,
    hostLog,
    async close() {
      await host.close();
      await chat.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
