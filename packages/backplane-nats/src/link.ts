/**
 * One NATS connection of a node, shared by the buses of its hubs and its presence: connects (and
 * keeps trying while the server is away), reconnects forever, tells who listens when it comes back,
 * and creates or updates the streams and buckets the backplane uses.
 * @module
 */
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { type ConnectionOptions, connect, type NatsConnection } from '@nats-io/transport-node';
import { type BackplaneError, backendError, withTimeout } from '@switchboard/server/scaleout';

/** What a {@link NatsLink} is built from. */
export interface NatsLinkOptions {
  /** The server URL(s) (`nats://127.0.0.1:4222`), or full connection options of `@nats-io/transport-node`. */
  readonly servers: string | readonly string[] | ConnectionOptions;
  /** The connection's name, shown by the server's monitoring. */
  readonly name: string;
  /** Receives connection faults (the link reconnects by itself). */
  readonly onError: (error: BackplaneError) => void;
}

/** Listens to the link's state. */
export interface LinkListener {
  /** The connection was lost (publishes queue until it is back). */
  disconnected?(): void;
  /** The connection is back (after a loss). */
  reconnected?(): void;
}

/** A node's NATS connection. */
export class NatsLink {
  /** Resolves with the connection once the first connect succeeded (it retries until then). */
  readonly connection: Promise<NatsConnection>;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private up = false;
  private closed = false;
  private readonly listeners = new Set<LinkListener>();
  private waiters: (() => void)[] = [];
  /** Reconnects after a loss. */
  reconnects = 0;

  constructor(private readonly options: NatsLinkOptions) {
    this.connection = connect({
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
      ...connectionOptions(options.servers),
    }).then(async (nc) => {
      this.nc = nc;
      this.js = jetstream(nc);
      this.jsm = await jetstreamManager(nc, { checkAPI: false });
      if (this.closed) {
        await nc.close();
        return nc;
      }
      this.setUp(true);
      void this.watch(nc);
      return nc;
    });
    this.connection.catch((error: unknown) => this.report('connect', error));
  }

  /** Whether the connection is up now. */
  get connected(): boolean {
    return this.up && !this.closed;
  }

  /** The JetStream client (once connected). */
  get jetstream(): JetStreamClient {
    if (!this.js) throw new Error('NATS: not connected yet');
    return this.js;
  }

  /** The JetStream manager (once connected). */
  get manager(): JetStreamManager {
    if (!this.jsm) throw new Error('NATS: not connected yet');
    return this.jsm;
  }

  /** The connection (once connected). */
  get nats(): NatsConnection {
    if (!this.nc) throw new Error('NATS: not connected yet');
    return this.nc;
  }

  /** Adds a listener; returns the function that removes it. */
  listen(listener: LinkListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the connection is up (at once when it is), or when the link closes. */
  whenUp(): Promise<void> {
    if (this.connected || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Creates the stream, or brings an existing one's limits to `config` (a node started with other
   * limits than the others changes them for all: they are the cluster's). Returns when it was
   * created (the stream's `created` time tells a stream from one made anew after a loss).
   */
  async ensureStream(config: Partial<StreamConfig> & { name: string }): Promise<string> {
    const jsm = this.manager;
    try {
      const info = await jsm.streams.info(config.name);
      const current = info.config;
      const differs = (['max_age', 'max_msgs', 'max_msgs_per_subject', 'max_bytes'] as const).some(
        (k) => config[k] !== undefined && current[k] !== config[k],
      );
      if (!differs) return info.created;
      return (await jsm.streams.update(config.name, { ...current, ...config })).created;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    try {
      return (await jsm.streams.add(config)).created;
    } catch (error) {
      // Another node created it meanwhile.
      return (await jsm.streams.info(config.name).catch(() => Promise.reject(error))).created;
    }
  }

  /** Closes the connection (after flushing what was published). Calling it twice is harmless. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const resolve of this.waiters.splice(0)) resolve();
    const nc = this.nc;
    if (!nc) return;
    try {
      if (this.up) await withTimeout(nc.drain(), 2_000);
    } catch {
      // a server that went away meanwhile: close anyway
    }
    await nc.close().catch(() => undefined);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (this.closed) return;
      if (status.type === 'disconnect') {
        this.setUp(false);
        this.report(`connection to ${status.server} lost`, undefined);
      } else if (status.type === 'reconnect') {
        this.reconnects++;
        this.setUp(true);
      } else if (status.type === 'error') {
        this.report('server error', status.error);
      }
    }
  }

  private setUp(up: boolean): void {
    const was = this.up;
    this.up = up;
    if (up) for (const resolve of this.waiters.splice(0)) resolve();
    if (was === up) return;
    for (const listener of [...this.listeners]) {
      try {
        if (up) listener.reconnected?.();
        else listener.disconnected?.();
      } catch (error) {
        this.report('a listener of the connection', error);
      }
    }
  }

  private report(what: string, cause: unknown): void {
    if (!this.closed) this.options.onError(backendError('nats', 'SB_ERR_BACKPLANE_UNAVAILABLE', what, cause));
  }
}

/** Server URL(s) or connection options, as connection options. */
export function connectionOptions(
  servers: string | readonly string[] | ConnectionOptions,
): ConnectionOptions {
  return typeof servers === 'string' || Array.isArray(servers)
    ? { servers: servers as string | string[] }
    : (servers as ConnectionOptions);
}

/** Whether a JetStream API error says the stream (or consumer, or key) does not exist. */
export function isNotFound(error: unknown): boolean {
  const e = error as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  const code = e?.api_error?.err_code;
  return code === 10059 || code === 10014 || /not found/i.test(e?.message ?? '');
}
