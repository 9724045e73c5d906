/**
 * The chat with `WORKERS=N` on SQLite, as a {@link ChatCluster}: one chat process (`src/main.ts`
 * under tsx) whose workers share its port and one SQLite file. Node i of the cluster is worker
 * `(i mod N) + 1`: a client is pinned to its worker by opening TCP connections until node:cluster
 * hands one to that worker (its `GET /healthz` names the worker's node id), then upgrading that
 * very connection to the hub's WebSocket (skipNegotiation), through the official client's
 * `WebSocket` option.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpTransportType, type HubConnection } from '@microsoft/signalr';
import { connectClient } from '@switchboard/testkit';
import WebSocket from 'ws';
import { SqliteStorage } from '../src/storage/sqlite-storage.ts';
import { metricsText, TEST_ENV, type Wire } from './helpers.ts';
import { type ChatCluster, type ChatNode, stopChild } from './process-cluster.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const ROOT = new URL('../../../', import.meta.url).pathname;

/** Options of {@link startWorkerCluster}. */
export interface WorkerClusterOptions {
  /** `WORKERS`. */
  readonly workers: number;
  /** How many nodes the cluster shows (node i is worker `(i mod workers) + 1`). */
  readonly nodes: number;
  /** More configuration. */
  readonly env?: Record<string, string>;
}

/** Reads one HTTP response with a Content-Length from `socket`; resolves with its body. */
function readResponse(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString('latin1');
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      socket.off('data', onData);
      socket.off('error', reject);
      resolve(buffer.subarray(end + 4, end + 4 + length).toString('utf8'));
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** A TCP connection to `port` that node:cluster handed to the worker `nodeId`. */
export async function socketOnWorker(port: number, nodeId: string): Promise<Socket> {
  for (let attempt = 1; attempt <= 40; attempt++) {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    const body = JSON.parse(await readResponse(socket)) as { nodeId?: string };
    if (body.nodeId === nodeId) return socket;
    socket.destroy();
  }
  throw new Error(`node:cluster never handed a connection to ${nodeId} in 40 tries`);
}

/** Starts the chat with `WORKERS` on a fresh SQLite directory; resolves once every worker listens. */
export async function startWorkerCluster(options: WorkerClusterOptions): Promise<ChatCluster<SqliteStorage>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-workers-'));
  const machine = `chat-w${process.pid}`;
  const child: ChildProcess = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      NODE_ID: machine,
      WORKERS: String(options.workers),
      ...TEST_ENV,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d) => (text = (text + d).slice(-20_000)));
  child.stderr!.on('data', (d) => (text = (text + d).slice(-20_000)));
  const clients: HubConnection[] = [];
  let storage: SqliteStorage | undefined;
  const close = async () => {
    await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
    await stopChild(child);
    await storage?.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the chat did not start in 120 s: ${text}`)), 120_000);
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
        reject(new Error(`the chat exited (${code}) before listening: ${text}`));
      });
    });
    const port = Number(new URL(url).port);
    // The test's own connection to the same file, as a third process (roles, and reading back).
    storage = SqliteStorage.inDirectory(dataDir);
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
      return { status: response.status, body: raw ? (JSON.parse(raw) as Wire) : undefined };
    };
    const nodes: ChatNode[] = Array.from({ length: options.nodes }, (_, i) => {
      const nodeId = `${machine}-${(i % options.workers) + 1}`;
      return {
        nodeId,
        url,
        child,
        output: () => text,
        post,
        async connect(token, connectOptions = {}) {
          const socket = await socketOnWorker(port, nodeId);
          // The official client builds its WebSocket with this constructor; it upgrades `socket`.
          const Pinned = class extends WebSocket {
            constructor(address: string, protocols?: string | string[], wsOptions?: WebSocket.ClientOptions) {
              super(address, protocols, { ...wsOptions, createConnection: () => socket });
            }
          };
          // `WebSocket` is an option the client reads (HttpConnection) but its typings leave out.
          const clientOptions = Object.assign(
            {
              accessTokenFactory: () => token,
              ...connectOptions,
              transport: HttpTransportType.WebSockets,
              skipNegotiation: true,
            },
            { WebSocket: Pinned },
          );
          const sentBefore = socket.bytesWritten;
          const connection = await connectClient(`${url}/hubs/chat`, clientOptions);
          clients.push(connection);
          // The upgrade and the handshake went over the pinned socket: the client is on that worker.
          if (socket.bytesWritten <= sentBefore || socket.destroyed)
            throw new Error(`the hub connection did not use the socket pinned to ${nodeId}`);
          return connection;
        },
        metrics: () => metricsText(url),
      };
    });
    let counter = 0;
    const cluster: ChatCluster<SqliteStorage> = {
      nodes,
      schema: dataDir,
      storage,
      async register(name, via) {
        const username = `${name}${++counter}w${process.pid}`.slice(0, 32);
        const r = await (via ?? nodes[0]!).post('/api/auth/register', {
          username,
          password: 'password123',
          displayName: name,
        });
        if (r.status !== 201) throw new Error(`register ${name}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      },
      async agent(name, via) {
        const session = await cluster.register(name, via);
        await storage!.setRole(session.user.id, 'agent');
        const r = await (via ?? nodes[0]!).post('/api/auth/login', {
          username: session.user.username,
          password: 'password123',
        });
        if (r.status !== 200) throw new Error(`login ${name}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      },
      async guest(displayName, via) {
        const r = await (via ?? nodes[0]!).post('/api/auth/guest', { displayName });
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

/**
 * POSTs on a socket pinned to a worker (see {@link socketOnWorker}) and resolves with the response's
 * status: `body` as JSON, or an empty body when it is left out.
 */
export function postOn(socket: Socket, path: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const json = body === undefined ? '' : JSON.stringify(body);
    const type = body === undefined ? '' : 'Content-Type: application/json\r\n';
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const m = /^HTTP\/1\.1 (\d+)/.exec(text);
      if (m && text.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${type}Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
    );
  });
}
