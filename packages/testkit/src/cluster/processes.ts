/**
 * Small helpers for tests that run real processes: free ports, waiting for a port, binaries on the
 * machine, and child processes that never outlive the test.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { TestContext } from 'node:test';
import { requireService } from '../services.js';

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` (within 500 ms). */
export function accepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The first of `candidates` that exists, else the first (so that a skip names a path). */
export function findBinary(envName: string, candidates: readonly string[]): string {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  return candidates.find((p) => existsSync(p)) ?? candidates[0] ?? '';
}

/** Path of haproxy (env `HAPROXY`, else Debian's `/usr/sbin/haproxy`). */
export const HAPROXY_PATH = findBinary('HAPROXY', ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy']);

/** Path of redis-server (env `REDIS_SERVER`, else Debian's `/usr/bin/redis-server`). */
export const REDIS_SERVER_PATH = findBinary('REDIS_SERVER', [
  '/usr/bin/redis-server',
  '/usr/local/bin/redis-server',
]);

/**
 * Skips the test loudly when a binary it runs is absent (fails it under `CI=true`), as
 * {@link requireService} does for services. Returns true when the test may go on.
 */
export function requireBinary(t: TestContext, name: string, path: string): Promise<boolean> {
  return requireService(t, { kind: 'file', name, path });
}

/** Every child process started here that has not exited yet. */
const live = new Set<ChildHandle>();

/** A child process with its output kept (the last lines), killed at the latest by {@link killAll}. */
export class ChildHandle {
  /** The last lines the process wrote on stdout and stderr (at most 200). */
  readonly output: string[] = [];
  /** Resolves with the exit code (or signal name) when the process has exited. */
  readonly exited: Promise<number | string>;
  private exitedFlag = false;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitedFlag = true;
        live.delete(this);
        resolve(code ?? signal ?? -1);
      });
    });
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.push(line);
      });
    }
    live.add(this);
  }

  /** Spawns `command` with `args`, its stdin ignored and its output piped and kept. */
  static spawn(
    name: string,
    command: string,
    args: readonly string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ): ChildHandle {
    const child = spawn(command, [...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
    return new ChildHandle(name, child);
  }

  /** Whether the process has exited. */
  get hasExited(): boolean {
    return this.exitedFlag;
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves with the first output line that matches, or rejects at exit or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (line: string): boolean => {
        const match = pattern.exec(line);
        if (match) {
          finish();
          resolve(match);
          return true;
        }
        return false;
      };
      for (const line of this.output) if (check(line)) return;
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(`${this.name}: no line matching ${pattern} within ${timeoutMs} ms:\n${this.tail()}`),
        );
      }, timeoutMs);
      const onExit = (code: number | string) => {
        finish();
        reject(new Error(`${this.name} exited (${code}) before a line matching ${pattern}:\n${this.tail()}`));
      };
      const finish = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
        done = true;
      };
      let done = false;
      this.listeners.add(check);
      this.exited.then((code) => {
        if (!done) onExit(code);
      });
    });
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs` if it has not exited. */
  async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
    if (this.exitedFlag) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** The last lines of output, for error messages. */
  tail(lines = 30): string {
    return this.output.slice(-lines).join('\n');
  }

  private readonly listeners = new Set<(line: string) => boolean>();

  private push(line: string): void {
    this.output.push(line);
    if (this.output.length > 200) this.output.shift();
    for (const listener of [...this.listeners]) listener(line);
  }

  /** SIGKILLs every child still running (for `after` hooks and `finally` blocks). */
  static async killAll(): Promise<void> {
    await Promise.all([...live].map((c) => c.kill('SIGKILL', 1_000)));
  }
}

// No child outlives the test process, even when a test forgets to stop one.
process.once('exit', () => {
  for (const handle of live) handle.child.kill('SIGKILL');
});
