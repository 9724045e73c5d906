/**
 * A private `nats-server -js` for fault tests: on a free loopback port, with a JetStream store
 * directory of its own under the temp folder (kept across restarts, so streams survive them), that
 * a test can stop and start again on the same port.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, ChildHandle, findBinary, freePort, sleep } from './processes.js';

/** Path of nats-server (env `NATS_SERVER`, else Debian's `/usr/sbin/nats-server`). */
export const NATS_SERVER_PATH = findBinary('NATS_SERVER', [
  '/usr/sbin/nats-server',
  '/usr/bin/nats-server',
  '/usr/local/bin/nats-server',
]);

/** A nats-server child of the test process, with JetStream and a file store of its own. */
export class OwnNats {
  private handle: ChildHandle | undefined;
  /** The JetStream store directory (removed by {@link dispose}). */
  readonly storeDir = mkdtempSync(join(tmpdir(), 'sb-own-nats-'));

  private constructor(
    /** The port it listens on (kept across restarts). */
    readonly port: number,
    /** The port of its HTTP monitoring (`/connz`, `/jsz`). */
    readonly monitorPort: number,
    private readonly binary: string,
  ) {}

  /** Starts nats-server on a free port and waits until it accepts connections. */
  static async start(binary = NATS_SERVER_PATH): Promise<OwnNats> {
    const nats = new OwnNats(await freePort(), await freePort(), binary);
    await nats.start();
    return nats;
  }

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Whether the server process is running. */
  get running(): boolean {
    return this.handle !== undefined && !this.handle.hasExited;
  }

  /** Starts the server (again) on its port; waits at most 10 s until JetStream is ready. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`nats-server on ${this.port} is already running`);
    const handle = ChildHandle.spawn(`nats-server:${this.port}`, this.binary, [
      '-js',
      '-a',
      '127.0.0.1',
      '-p',
      String(this.port),
      '-sd',
      this.storeDir,
      '-m',
      String(this.monitorPort),
    ]);
    this.handle = handle;
    // JetStream restores its streams before the server listens for clients.
    await handle.waitForLine(/Server is ready/, 10_000);
    const deadline = Date.now() + 5_000;
    while (!(await accepts(this.port))) {
      if (handle.hasExited) throw new Error(`nats-server on ${this.port} exited at start:\n${handle.tail()}`);
      if (Date.now() > deadline) throw new Error(`nats-server on ${this.port} did not start within 5 s`);
      await sleep(20);
    }
  }

  /** Stops the server with `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and waits for its exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.handle?.kill(signal);
  }

  /** Kills the server if running and removes its store (for `finally`). */
  async dispose(): Promise<void> {
    await this.handle?.kill('SIGKILL', 1_000);
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
