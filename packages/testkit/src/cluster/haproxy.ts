/**
 * haproxy in front of the nodes of a test cluster, run with the repository's own configuration
 * (`deploy/haproxy/switchboard.cfg`), its addresses given in the environment.
 * @module
 */
import { fileURLToPath } from 'node:url';
import { accepts, ChildHandle, freePort, HAPROXY_PATH, sleep } from './processes.js';

/** The repository's haproxy configuration. */
export const HAPROXY_CONFIG = fileURLToPath(
  new URL('../../../../deploy/haproxy/switchboard.cfg', import.meta.url),
);

/**
 * The repository's haproxy configuration without sticky sessions (`balance roundrobin`, no
 * cookie): each request to the next node, which forwards it to the connection's owner.
 */
export const HAPROXY_ROUNDROBIN_CONFIG = fileURLToPath(
  new URL('../../../../deploy/haproxy/switchboard-roundrobin.cfg', import.meta.url),
);

/** The server names of `deploy/haproxy/switchboard.cfg`, in order (its cookie values too). */
export const HAPROXY_SERVERS = ['node1', 'node2', 'node3'] as const;

/** The environment that fills in `deploy/haproxy/switchboard.cfg`: listen port and node ports. */
export function haproxyEnvironment(listenPort: number, nodePorts: readonly number[]): Record<string, string> {
  if (nodePorts.length !== HAPROXY_SERVERS.length) {
    throw new Error(`the configuration has ${HAPROXY_SERVERS.length} servers, got ${nodePorts.length} ports`);
  }
  const env: Record<string, string> = { SB_LISTEN: `127.0.0.1:${listenPort}` };
  nodePorts.forEach((port, i) => {
    env[`SB_NODE${i + 1}`] = `127.0.0.1:${port}`;
  });
  return env;
}

/** A running haproxy (foreground, `-db`). */
export class Haproxy {
  private constructor(
    private readonly handle: ChildHandle,
    /** The port it listens on. */
    readonly port: number,
  ) {}

  /** Starts haproxy on a free port in front of the nodes on `nodePorts` (three). */
  static async start(
    nodePorts: readonly number[],
    options: { binary?: string; config?: string } = {},
  ): Promise<Haproxy> {
    const port = await freePort();
    const handle = ChildHandle.spawn(
      'haproxy',
      options.binary ?? HAPROXY_PATH,
      ['-db', '-f', options.config ?? HAPROXY_CONFIG],
      {
        env: { ...process.env, ...haproxyEnvironment(port, nodePorts) },
      },
    );
    const deadline = Date.now() + 5_000;
    while (!(await accepts(port))) {
      if (handle.hasExited) throw new Error(`haproxy exited at start:\n${handle.tail()}`);
      if (Date.now() > deadline)
        throw new Error(`haproxy did not listen on ${port} within 5 s:\n${handle.tail()}`);
      await sleep(20);
    }
    return new Haproxy(handle, port);
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** What haproxy logged (its last lines: server state changes among them). */
  get log(): readonly string[] {
    return this.handle.output;
  }

  /** Stops haproxy. */
  stop(): Promise<void> {
    return this.handle.kill('SIGTERM', 2_000);
  }
}
