/**
 * A conformance server with worker processes (`--workers N`): one primary, N workers sharing its
 * port, each a node `<node-id>-<k>`. Clients connect straight to the port over WebSockets with
 * `skipNegotiation` (node:cluster spreads connections, not requests), and `GetNodeId()` tells on
 * which worker each connection lives.
 * @module
 */

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HttpTransportType, type HubConnection } from '@microsoft/signalr';
import { type ClientOptions, connectClient } from '../clients.js';
import { type BackplaneSpec, backplaneArgs, REPO_ROOT } from './node-process.js';
import { ChildHandle } from './processes.js';

/** Settings of {@link WorkersServer.start}. */
export interface WorkersServerOptions {
  /** How many workers (`--workers`). */
  readonly workers: number;
  /** `--lease-ms`. */
  readonly leaseMs?: number;
  /** `--presence-grace-ms`. */
  readonly presenceGraceMs?: number;
  /** An outside backplane the workers join instead of the in-box bus. */
  readonly backplane?: BackplaneSpec;
  /** The backplane's prefix. Default: a new unique one. */
  readonly prefix?: string;
}

/** A client of a worker server and where it is. */
export interface WorkerClient {
  readonly connection: HubConnection;
  /** The connection id (`GetCallerConnectionId`). */
  readonly id: string;
  /** The node (worker) it lives on (`GetNodeId`). */
  readonly node: string;
  readonly user: string | undefined;
}

/** A running conformance server with workers. */
export class WorkersServer {
  private readonly clients: HubConnection[] = [];

  private constructor(
    private readonly handle: ChildHandle,
    /** The port the workers share. */
    readonly port: number,
    /** The machine's node id; worker k is `<nodeId>-<k>`. */
    readonly nodeId: string,
    /** The JWT secret of every worker. */
    readonly jwtSecret: string,
    /** The prefix (with an outside backplane). */
    readonly prefix: string,
    readonly workers: number,
  ) {}

  /** Starts the server and waits (at most 120 s) until every worker listens. */
  static async start(options: WorkersServerOptions): Promise<WorkersServer> {
    const nodeId = `w-${randomUUID().slice(0, 8)}`;
    const jwtSecret = randomUUID();
    const prefix = options.prefix ?? `sb-workers-${randomUUID()}:`;
    const args = [
      '--conditions=source',
      '--import',
      'tsx',
      'conformance/src/main.ts',
      '--port',
      '0',
      '--workers',
      String(options.workers),
      '--node-id',
      nodeId,
      '--jwt-secret',
      jwtSecret,
      '--token-lifetime-s',
      '3600',
      ...(options.backplane ? [...backplaneArgs(options.backplane), '--prefix', prefix] : []),
      ...(options.leaseMs !== undefined ? ['--lease-ms', String(options.leaseMs)] : []),
      ...(options.presenceGraceMs !== undefined
        ? ['--presence-grace-ms', String(options.presenceGraceMs)]
        : []),
    ];
    const env = { ...process.env };
    for (const name of [
      'REDIS_URL',
      'NATS_URL',
      'NODE_ID',
      'BACKPLANE',
      'BACKPLANE_URL',
      'LEASE_MS',
      'JWT_SECRET',
    ])
      delete env[name];
    const handle = ChildHandle.spawn(`workers ${nodeId}`, process.execPath, args, { cwd: REPO_ROOT, env });
    try {
      const match = await handle.waitForLine(/^Now listening on: http:\/\/[^:]+:(\d+)/, 120_000);
      return new WorkersServer(handle, Number(match[1]), nodeId, jwtSecret, prefix, options.workers);
    } catch (error) {
      await handle.kill('SIGKILL', 1_000);
      throw error;
    }
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The node ids of the workers, `<nodeId>-1` … */
  get nodes(): string[] {
    return Array.from({ length: this.workers }, (_, i) => `${this.nodeId}-${i + 1}`);
  }

  /** What the primary and the workers wrote (the last lines). */
  get log(): readonly string[] {
    return this.handle.output;
  }

  /** Resolves with the primary's exit code. */
  get exited(): Promise<number | string> {
    return this.handle.exited;
  }

  /** A token for `user` from `/generateJwtToken` (every worker accepts it). */
  async token(user: string): Promise<string> {
    const response = await fetch(`${this.url}/generateJwtToken?user=${encodeURIComponent(user)}`);
    if (response.status !== 200) throw new Error(`generateJwtToken answered ${response.status}`);
    return response.text();
  }

  /**
   * Connects an official client over WebSockets with `skipNegotiation` (as `user` when given);
   * with `node`, connects again until node:cluster hands the connection to that worker (at most
   * 20 times; misplaced connections are stopped).
   */
  async connect(
    path: string,
    options: ClientOptions & { user?: string; node?: string } = {},
  ): Promise<WorkerClient> {
    const { user, node: wanted, ...rest } = options;
    const bearer = user === undefined ? undefined : await this.token(user);
    for (let attempt = 1; ; attempt++) {
      const connection = await connectClient(`${this.url}${path}`, {
        ...rest,
        transport: HttpTransportType.WebSockets,
        skipNegotiation: true,
        ...(bearer === undefined ? {} : { accessTokenFactory: () => bearer }),
      });
      this.clients.push(connection);
      const node = await connection.invoke<string>('GetNodeId');
      if (wanted === undefined || node === wanted) {
        const id = await connection.invoke<string>('GetCallerConnectionId');
        return { connection, id, node, user };
      }
      await connection.stop();
      if (attempt === 20) throw new Error(`node:cluster never chose ${wanted} in 20 connections`);
    }
  }

  /** The process id of the worker that is node `node` now (from its environment). */
  workerPid(node: string): number {
    const pids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(this.handle.pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((pid) => pid > 0);
    for (const pid of pids) {
      try {
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        if (environ.includes(`SWITCHBOARD_WORKER_NODE_ID=${node}`)) return pid;
      } catch {
        // exited meanwhile
      }
    }
    throw new Error(`no worker process is node ${node}`);
  }

  /** SIGKILLs the worker that is node `node`. */
  killWorker(node: string): number {
    const pid = this.workerPid(node);
    process.kill(pid, 'SIGKILL');
    return pid;
  }

  /** Stops the clients it connected, then SIGTERMs the primary (SIGKILL after 20 s). */
  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.stop().catch(() => undefined)));
    await this.handle.kill('SIGTERM', 20_000);
  }
}
