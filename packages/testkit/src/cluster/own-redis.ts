/**
 * A private `redis-server` for fault tests: on a free loopback port, without persistence, that a
 * test can stop and start again on the same port.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, ChildHandle, freePort, REDIS_SERVER_PATH, sleep } from './processes.js';

/** A redis-server child of the test process (`--save "" --appendonly no`). */
export class OwnRedis {
  private handle: ChildHandle | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'sb-own-redis-'));

  private constructor(
    /** The port it listens on (kept across restarts). */
    readonly port: number,
    private readonly binary: string,
  ) {}

  /** Starts redis-server on a free port and waits until it accepts connections. */
  static async start(binary = REDIS_SERVER_PATH): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), binary);
    await redis.start();
    return redis;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Whether the server process is running. */
  get running(): boolean {
    return this.handle !== undefined && !this.handle.hasExited;
  }

  /** Starts the server (again) on its port; waits at most 5 s until it accepts connections. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`redis-server on ${this.port} is already running`);
    const handle = ChildHandle.spawn(`redis-server:${this.port}`, this.binary, [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.dir,
    ]);
    this.handle = handle;
    const deadline = Date.now() + 5_000;
    while (!(await accepts(this.port))) {
      if (handle.hasExited)
        throw new Error(`redis-server on ${this.port} exited at start:\n${handle.tail()}`);
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not start within 5 s`);
      await sleep(20);
    }
  }

  /** Stops the server with `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and waits for its exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.handle?.kill(signal);
  }

  /** Kills the server if running and removes its directory (for `finally`). */
  async dispose(): Promise<void> {
    await this.handle?.kill('SIGKILL', 1_000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
