/**
 * Shared by the multi-process chat tests: real chat server processes (`src/main.ts` under tsx),
 * each on its own free port, on one PostgreSQL schema (shared storage) and one backplane prefix,
 * with accounts through the HTTP API and official clients on the hub. Every process is killed in
 * `close()`, which the tests call from `after` hooks, so a failing test leaves nothing running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { type ChatStorage, PostgresStorage } from '@switchboard/chat-server';
import { type ClientOptions, connectClient, deleteRedisPrefix, requireService } from '@switchboard/testkit';
import pg from 'pg';
import type { TestSession, Wire } from './helpers.ts';
import { metricsText, TEST_ENV } from './helpers.ts';
import { metricSum } from './metrics-text.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const ROOT = new URL('../../../', import.meta.url).pathname;

/** PostgreSQL and Redis as the tests find them. */
export const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** One chat server process. */
export interface ChatNode {
  readonly nodeId: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** What the process wrote (for failure messages). */
  output(): string;
  /** Starts an official client on this node's hub with the token (options as `connectClient`'s). */
  connect(token: string, options?: ClientOptions): Promise<HubConnection>;
  /** POSTs JSON to this node's API. */
  post(path: string, body?: unknown, token?: string): Promise<{ status: number; body: Wire }>;
  /** GETs `/metrics` from this node. */
  metrics(): Promise<string>;
}

/** Several chat processes over one schema and one backplane prefix. */
export interface ChatCluster<S extends ChatStorage = PostgresStorage> {
  readonly nodes: readonly ChatNode[];
  readonly schema: string;
  /** The shared storage, opened by the test (to give roles, and to read what was stored). */
  readonly storage: S;
  /** Registers a user with a unique name through node `via` (password `password123`). */
  register(name: string, via?: ChatNode): Promise<TestSession>;
  /** Registers a user, makes them an agent in the storage, and logs in (the token carries the role). */
  agent(name: string, via?: ChatNode): Promise<TestSession>;
  /** A guest session. */
  guest(displayName: string, via?: ChatNode): Promise<TestSession>;
  /** Stops the clients, kills every process, drops the schema. */
  close(): Promise<void>;
}

/** How to start a cluster. */
export interface ChatClusterOptions {
  /** How many processes. */
  readonly nodes: number;
  /** A short name for the schema and prefix (unique per test file). */
  readonly name: string;
  /** Backplane variables (`REDIS_URL`, or `BACKPLANE=postgres`), given the run's prefix. */
  readonly backplane: (prefix: string) => Record<string, string>;
  /** More configuration for every node. */
  readonly env?: Record<string, string>;
}

let counter = 0;

/**
 * Drops every PostgreSQL schema whose name holds `run` (a test run's storage schema, and any a
 * PostgreSQL backplane derived from a prefix that holds it).
 */
export async function dropRunSchemas(run: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const schemas = await client.query('SELECT nspname FROM pg_namespace WHERE nspname LIKE $1', [
      `%${run}%`,
    ]);
    for (const { nspname } of schemas.rows) {
      await client.query(`DROP SCHEMA IF EXISTS "${String(nspname).replaceAll('"', '""')}" CASCADE`);
    }
  } finally {
    await client.end();
  }
}

/** Whether PostgreSQL and (unless `redis` is false) Redis answer; else the test skips loudly. */
export async function servicesAvailable(t: TestContext, options: { redis?: boolean } = {}): Promise<boolean> {
  const db = new URL(DATABASE_URL);
  const pgUp = await requireService(t, {
    kind: 'tcp',
    name: 'PostgreSQL',
    host: db.hostname,
    port: Number(db.port || 5432),
  });
  if (!pgUp || options.redis === false) return pgUp;
  const redis = new URL(REDIS_URL);
  return requireService(t, {
    kind: 'tcp',
    name: 'Redis',
    host: redis.hostname,
    port: Number(redis.port || 6379),
  });
}

/** Starts the processes at once and waits until each listens (or one fails: it throws, after killing all). */
export async function startCluster(options: ChatClusterOptions): Promise<ChatCluster> {
  const run = `${options.name}_${process.pid}_${Date.now()}`.toLowerCase();
  const schema = `chat_${run}`.toLowerCase();
  const prefix = `sb-chat-${run}`;
  const children: ChildProcess[] = [];
  const clients: HubConnection[] = [];
  const storage = new PostgresStorage({ connectionString: DATABASE_URL, schema, maxConnections: 4 });
  const close = async () => {
    await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
    await Promise.all(children.map(stopChild));
    await storage.close().catch(() => undefined);
    // The storage's schema, and any a PostgreSQL backplane derived from the prefix.
    await dropRunSchemas(run);
    await deleteRedisPrefix(REDIS_URL, prefix).catch(() => undefined);
  };
  try {
    // The schema and the JWT secret exist before the nodes start, so they start at once.
    await storage.migrate();
    const env = {
      LOG_LEVEL: 'warn',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL,
      DATABASE_SCHEMA: schema,
      BACKPLANE_PREFIX: prefix,
      JWT_SECRET: `secret-${run}-0123456789abcdef`,
      ...TEST_ENV,
      ...options.backplane(prefix),
      ...options.env,
    };
    const nodes = await Promise.all(
      Array.from({ length: options.nodes }, (_, i) => startNode(`node-${i + 1}`, env, children, clients)),
    );
    const post = (via: ChatNode | undefined) => via ?? nodes[0]!;
    const cluster: ChatCluster = {
      nodes,
      schema,
      storage,
      async register(name, via) {
        const username = `${name}${++counter}x${process.pid}`.slice(0, 32);
        const r = await post(via).post('/api/auth/register', {
          username,
          password: 'password123',
          displayName: name,
        });
        if (r.status !== 201) throw new Error(`register ${name}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      },
      async agent(name, via) {
        const session = await cluster.register(name, via);
        await storage.setRole(session.user.id, 'agent');
        const r = await post(via).post('/api/auth/login', {
          username: session.user.username,
          password: 'password123',
        });
        if (r.status !== 200) throw new Error(`login ${name}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      },
      async guest(displayName, via) {
        const r = await post(via).post('/api/auth/guest', { displayName });
        if (r.status !== 201) throw new Error(`guest: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      },
      close,
    };
    return cluster;
  } catch (error) {
    await close();
    throw error;
  }
}

async function startNode(
  nodeId: string,
  env: Record<string, string>,
  children: ChildProcess[],
  clients: HubConnection[],
): Promise<ChatNode> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: { ...process.env, ...env, NODE_ID: nodeId },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let text = '';
  child.stdout!.on('data', (d) => (text = (text + d).slice(-20_000)));
  child.stderr!.on('data', (d) => (text = (text + d).slice(-20_000)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${nodeId} did not start in 60 s: ${text}`)), 60_000);
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${nodeId} exited (${code}) before listening: ${text}`));
    });
  });
  const post: ChatNode['post'] = async (path, body, token) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const raw = await response.text();
    return { status: response.status, body: raw ? JSON.parse(raw) : undefined };
  };
  return {
    nodeId,
    url,
    child,
    output: () => text,
    post,
    async connect(token, options = {}) {
      const connection = await connectClient(`${url}/hubs/chat`, {
        accessTokenFactory: () => token,
        ...options,
      });
      clients.push(connection);
      return connection;
    },
    async metrics() {
      return metricsText(url);
    },
  };
}

/** SIGTERM, then SIGKILL if the process is still there after 5 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** The sum of a metric's samples over every label set, or undefined when it is not served. */
export function metricValue(text: string, name: string): number | undefined {
  return metricSum(text, name);
}
