/**
 * Shared by the chat tests: a chat server per test file on SQLite in a temporary directory (or the
 * storage given), accounts through the HTTP API, official clients on the hub, and event recording.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HubConnection } from '@microsoft/signalr';
import { type ChatApp, type ChatStorage, createChatApp, loadConfig } from '@switchboard/chat-server';
import { silentLogger } from '@switchboard/server';
import { connectClient, waitFor } from '@switchboard/testkit';

/** A session as the auth API answers it. */
export interface TestSession {
  token: string;
  user: { id: string; username: string; displayName: string; role: string; isGuest: boolean };
}

/** A chat server for a test file. */
export interface ChatTestServer {
  readonly app: ChatApp;
  readonly url: string;
  readonly dataDir: string;
  /** POSTs JSON to the API, with a bearer token when given. */
  post(
    path: string,
    body?: unknown,
    token?: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Wire }>;
  /** Registers a user with a unique name (password `password123`). */
  register(name: string): Promise<TestSession>;
  /** A guest session. */
  guest(displayName: string): Promise<TestSession>;
  /** Registers a user and makes them an agent (a fresh token carries the role). */
  agent(name: string): Promise<TestSession>;
  /** Starts an official client on the hub with the token. */
  connect(token: string): Promise<HubConnection>;
  close(): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON from the wire, checked by the assertions
export type Wire = any;

let counter = 0;

/** The `METRICS_TOKEN` of test servers. */
export const TEST_METRICS_TOKEN = 'test-metrics-token-0123456789';

/**
 * What test servers change from the defaults: every test file registers its users from one address
 * (`REGISTER_RATE_LIMIT` raised through its own variable), and `/metrics` has a token. The other
 * limits keep their defaults: ordinary use never meets them.
 */
export const TEST_ENV: Readonly<Record<string, string>> = {
  REGISTER_RATE_LIMIT: '100000',
  METRICS_TOKEN: TEST_METRICS_TOKEN,
};

/** GETs `/metrics` of a chat server with the test token. */
export async function metricsText(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`, {
    headers: { Authorization: `Bearer ${TEST_METRICS_TOKEN}` },
  });
  if (response.status !== 200) throw new Error(`/metrics: ${response.status} ${await response.text()}`);
  return response.text();
}

/** Starts a chat server; `env` adds configuration variables. */
export async function startChat(
  env: Record<string, string> = {},
  options: { storage?: ChatStorage; webRoot?: string } = {},
): Promise<ChatTestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-chat-'));
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ...TEST_ENV, ...env });
  const app = await createChatApp(config, { logger: silentLogger, drainTimeoutMs: 300, ...options });
  const url = await app.listen();
  const clients: HubConnection[] = [];
  const post: ChatTestServer['post'] = async (path, body, token, headers = {}) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const server: ChatTestServer = {
    app,
    url,
    dataDir,
    post,
    async register(name) {
      const username = `${name}${++counter}${process.pid}`.slice(0, 32);
      const r = await post('/api/auth/register', { username, password: 'password123', displayName: name });
      if (r.status !== 201) throw new Error(`register ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async guest(displayName) {
      const r = await post('/api/auth/guest', { displayName });
      if (r.status !== 201) throw new Error(`guest: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async agent(name) {
      const session = await server.register(name);
      await app.accounts.setRole(session.user.username, 'agent');
      const r = await post('/api/auth/login', { username: session.user.username, password: 'password123' });
      return r.body;
    },
    async connect(token) {
      const connection = await connectClient(`${url}/hubs/chat`, { accessTokenFactory: () => token });
      clients.push(connection);
      return connection;
    },
    async close() {
      await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Records every chat event a connection receives, by event name. */
export function record(connection: HubConnection): Record<string, Wire[]> {
  const events: Record<string, Wire[]> = {};
  for (const name of [
    'messageReceived',
    'messageEdited',
    'messageDeleted',
    'reactionsChanged',
    'threadUpdated',
    'threadReadUpdated',
    'typing',
    'readUpdated',
    'presenceChanged',
    'roomUpdated',
    'supportQueueUpdated',
    'supportRequestUpdated',
  ]) {
    events[name] = [];
    connection.on(name, (arg: unknown) => events[name]!.push(arg));
  }
  return events;
}

/** Waits until `list` has at least `n` entries. */
export function waitCount(list: unknown[], n: number, what = 'events'): Promise<void> {
  return waitFor(() => list.length >= n, 5_000, `${n} ${what}`);
}

/** Lets in-flight deliveries arrive (for "nothing more came" checks). */
export function settle(ms = 100): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A unique client message id. */
export function cid(): string {
  return `c-${Math.random().toString(36).slice(2)}-${Date.now()}`;
}
