// Test helpers: a PostgreSQL schema per test, dropped after; a pool on the local server.
import { randomUUID } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { requireService } from '../../testkit/src/services.ts';
import { PostgresHubLifetimeManager, type PostgresHubLifetimeManagerOptions } from '../src/index.ts';
import { quoteIdent, schemaFromPrefix } from '../src/migrations.ts';

export const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Skips (or, under CI=true, fails) when PostgreSQL is not running. */
export function requirePostgres(t: TestContext): Promise<boolean> {
  const url = new URL(PG_URL);
  return requireService(t, {
    kind: 'tcp',
    name: 'PostgreSQL',
    host: url.hostname,
    port: Number(url.port || 5432),
  });
}

/** A prefix (and so a schema) no other test run uses. */
export function uniquePrefix(): string {
  return `sb-test-${randomUUID()}:`;
}

/** A pool for the test's own queries; `application_name` tells it apart from the nodes'. */
export function adminPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 2, application_name: 'sb-test-admin' });
  pool.on('error', () => undefined);
  return pool;
}

/** Drops the schema of a prefix (and everything in it). */
export async function dropSchema(pool: pg.Pool, prefix: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schemaFromPrefix(prefix))} CASCADE`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether PostgreSQL answers on its port (for files that must decide before registering tests). */
export function postgresReachable(): Promise<boolean> {
  const url = new URL(PG_URL);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 5432) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** `n` nodes on one prefix (one schema), node i named `node-<i>`, ready. */
export async function startNodes(
  n: number,
  prefix: string,
  options: Partial<PostgresHubLifetimeManagerOptions> = {},
): Promise<PostgresHubLifetimeManager[]> {
  const nodes = Array.from(
    { length: n },
    (_, i) =>
      new PostgresHubLifetimeManager({
        pg: PG_URL,
        prefix,
        nodeId: `node-${i}`,
        applicationName: `${prefix}node-${i}`,
        ...options,
      }),
  );
  await Promise.all(nodes.map((node) => node.ready()));
  return nodes;
}

/** Waits until every node has written what it sent, and every node has read it. */
export async function settle(nodes: readonly PostgresHubLifetimeManager[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.flush()));
  await Promise.all(nodes.map((node) => node.catchUp()));
}

/** Closes the nodes and drops the prefix's schema. */
export async function closeNodes(
  nodes: readonly PostgresHubLifetimeManager[],
  prefix: string,
): Promise<void> {
  await Promise.all(nodes.map((node) => node.close()));
  const admin = adminPool();
  try {
    await dropSchema(admin, prefix);
  } finally {
    await admin.end();
  }
}

/** Ends every connection a node opened (pool and LISTEN), found by its `application_name`. */
export async function terminateNode(admin: pg.Pool, applicationName: string): Promise<number> {
  const result = await admin.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
    [applicationName],
  );
  return result.rowCount ?? 0;
}

/**
 * A TCP relay to PostgreSQL on a free port: `hold()` cuts every connection through it and refuses
 * new ones (the route to the server is down), `release()` lets them through again.
 */
export class TcpRelay {
  private readonly sockets = new Set<Socket>();
  private held = false;
  private gate: Promise<void> = Promise.resolve();
  private open: (() => void) | undefined;
  private readonly server: Server;

  private constructor(target: { host: string; port: number }) {
    this.server = createServer((socket) => {
      if (this.held) {
        socket.destroy();
        return;
      }
      const upstream = connect(target);
      for (const s of [socket, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          socket.destroy();
          upstream.destroy();
        });
      }
      // What the client sends waits, in order, while the relay is paused.
      let chain = Promise.resolve();
      socket.on('data', (chunk: Buffer) => {
        chain = chain.then(async () => {
          await this.gate;
          if (!upstream.destroyed) upstream.write(chunk);
        });
      });
      upstream.pipe(socket);
    });
  }

  /** Starts a relay to the test database's server. */
  static async start(): Promise<TcpRelay> {
    const url = new URL(PG_URL);
    const relay = new TcpRelay({ host: url.hostname, port: Number(url.port || 5432) });
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  /** The test database's URL through this relay. */
  get url(): string {
    const url = new URL(PG_URL);
    url.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return url.toString();
  }

  hold(): void {
    this.held = true;
    for (const socket of this.sockets) socket.destroy();
  }

  release(): void {
    this.held = false;
  }

  /** Holds back what clients send to the server (the server's answers still flow) until resume(). */
  pause(): void {
    if (this.open) return;
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
  }

  /** Lets what pause() held back go on, in order. */
  resume(): void {
    this.open?.();
    this.open = undefined;
  }

  async close(): Promise<void> {
    this.hold();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Waits until `condition` holds (bounded). */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
