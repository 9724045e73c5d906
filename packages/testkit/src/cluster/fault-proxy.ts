/**
 * A TCP proxy for fault tests, put between one server process and its backplane: it forwards
 * bytes both ways until told to cut the connections, or to cut them and refuse new ones for a
 * while.
 * @module
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** What the proxy does with traffic now. */
export type FaultProxyMode = 'forward' | 'refuse';

/** A loopback TCP proxy to `target`, on a free port of its own. */
export class FaultProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private modeNow: FaultProxyMode = 'forward';
  /** Connections accepted so far (each a new connection of the proxied process). */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    /** The port to give the proxied process instead of the target's. */
    readonly port: number,
    readonly targetHost: string,
    readonly targetPort: number,
  ) {}

  /** Starts a proxy to `targetHost:targetPort` on a free loopback port. */
  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = createServer((client) => proxy?.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    proxy = new FaultProxy(server, port, targetHost, targetPort);
    return proxy;
  }

  /** The current mode. */
  get mode(): FaultProxyMode {
    return this.modeNow;
  }

  /** How many proxied connections are open. */
  get openConnections(): number {
    return this.pairs.size;
  }

  /** Destroys every open connection (both sides see a reset); new ones are still accepted. */
  cut(): void {
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  /**
   * Cuts every open connection and refuses new ones (closed at once) until {@link release}: the
   * proxied process sees its backplane gone.
   */
  refuse(): void {
    this.modeNow = 'refuse';
    this.cut();
  }

  /** Back to forwarding: new connections are accepted again. */
  release(): void {
    this.modeNow = 'forward';
  }

  /** Cuts every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.modeNow === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    this.accepted++;
    const upstream = connect({ host: this.targetHost, port: this.targetPort });
    const pair = { client, upstream };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
