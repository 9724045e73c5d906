/**
 * One conformance server process, a node of a test cluster: `node --conditions=source --import
 * tsx conformance/src/main.ts ...` (no build needed), given its backplane by flags.
 * @module
 */
import { fileURLToPath } from 'node:url';
import { ChildHandle } from './processes.js';

/** The repository root (the conformance server runs from there, so tsx and the workspaces resolve). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * A backplane for a cluster of conformance servers. The kind names the server flag that joins
 * it (`--redis URL`, `--postgres URL`, `--nats URL`), so a new backplane is one more kind here.
 */
export interface BackplaneSpec {
  /** `redis`, `postgres` or `nats`. */
  readonly kind: 'redis' | 'postgres' | 'nats';
  /** What the flag is given (`redis://127.0.0.1:6379`, `postgres://postgres@127.0.0.1:5432/test`). */
  readonly url: string;
}

/** The conformance server flags that join `backplane`. */
export function backplaneArgs(backplane: BackplaneSpec): string[] {
  return [`--${backplane.kind}`, backplane.url];
}

/** Settings of one node. */
export interface NodeProcessOptions {
  /** The node id (`--node-id`). */
  nodeId: string;
  /** The backplane this node connects to (possibly through a fault proxy). */
  backplane: BackplaneSpec;
  /** Keys and channels prefix (`--prefix`), the same on every node of a cluster. */
  prefix: string;
  /** Shared HS256 secret (`--jwt-secret`). */
  jwtSecret: string;
  /** `--lease-ms`. */
  leaseMs?: number;
  /** `--presence-grace-ms`. */
  presenceGraceMs?: number;
  /** `--token-lifetime-s`. Default 3600, so tokens outlive the test. */
  tokenLifetimeSeconds?: number;
  /** More flags. */
  extraArgs?: readonly string[];
}

/** A running conformance server process. */
export class NodeProcess {
  private constructor(
    private readonly handle: ChildHandle,
    readonly nodeId: string,
    /** The port it listens on. */
    readonly port: number,
  ) {}

  /**
   * Spawns the node on a free port and waits (at most 90 s) for its listening line: three nodes
   * loading TypeScript at once on a loaded two-core machine took 26 s.
   */
  static async start(options: NodeProcessOptions): Promise<NodeProcess> {
    const args = [
      '--conditions=source',
      '--import',
      'tsx',
      'conformance/src/main.ts',
      '--port',
      '0',
      '--node-id',
      options.nodeId,
      '--prefix',
      options.prefix,
      '--jwt-secret',
      options.jwtSecret,
      '--token-lifetime-s',
      String(options.tokenLifetimeSeconds ?? 3_600),
      ...backplaneArgs(options.backplane),
      ...(options.leaseMs !== undefined ? ['--lease-ms', String(options.leaseMs)] : []),
      ...(options.presenceGraceMs !== undefined
        ? ['--presence-grace-ms', String(options.presenceGraceMs)]
        : []),
      ...(options.extraArgs ?? []),
    ];
    const env = { ...process.env };
    for (const name of [
      'REDIS_URL',
      'NATS_URL',
      'NODE_ID',
      'BACKPLANE',
      'BACKPLANE_URL',
      'BACKPLANE_PREFIX',
      'LEASE_MS',
      'JWT_SECRET',
    ]) {
      delete env[name];
    }
    const handle = ChildHandle.spawn(`node ${options.nodeId}`, process.execPath, args, {
      cwd: REPO_ROOT,
      env,
    });
    try {
      const match = await handle.waitForLine(/^Now listening on: http:\/\/[^:]+:(\d+)/, 90_000);
      return new NodeProcess(handle, options.nodeId, Number(match[1]));
    } catch (error) {
      await handle.kill('SIGKILL', 1_000);
      throw error;
    }
  }

  /** `http://127.0.0.1:<port>`: the node itself, bypassing the load balancer. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return !this.handle.hasExited;
  }

  /** What the node wrote (its last lines; warnings and errors are JSON lines on stderr). */
  get log(): readonly string[] {
    return this.handle.output;
  }

  /** SIGKILL: the node dies at once, without draining or leaving presence. */
  async kill(): Promise<void> {
    await this.handle.kill('SIGKILL', 1_000);
  }

  /** SIGTERM: the node drains its hubs and exits (SIGKILL after 10 s). */
  async stop(): Promise<void> {
    await this.handle.kill('SIGTERM', 10_000);
  }
}
