/**
 * {@link clusterize}: one call that runs a `HubServer` on every core of a machine. The primary
 * process forks the workers (node:cluster: they share the listening port), hosts the in-box bus
 * that joins them ({@link InboxBroker}), replaces a worker that dies and, on SIGTERM or SIGINT,
 * drains every worker before it exits 0. Each worker is a full node of the cluster, with its own
 * id `<nodeId>-<k>`.
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import { LimitBroker } from './limits/limit-broker.js';
import { WORKER_COUNT_ENV } from './limits/shared-limits.js';
import { createJsonLogger, type Logger } from './logger.js';
import type { Backplane } from './scaleout/backplane.js';
import type { BackplaneCommonOptions } from './scaleout/create-backplane.js';
import { InboxBroker } from './scaleout/inbox-broker.js';
import { inboxBackplane } from './scaleout/inbox-bus.js';

/** The environment variables the primary gives each worker. */
const INDEX_ENV = 'SWITCHBOARD_WORKER_INDEX';
const NODE_ENV = 'SWITCHBOARD_WORKER_NODE_ID';

/** What a worker's factory is told about the worker it runs in. */
export interface ClusterWorkerContext {
  /** The worker's number, 1 to `workers` (a replacement keeps the number of the worker it replaces). */
  readonly index: number;
  /** The worker's node id: `<nodeId>-<index>`. Give it to any backplane the app builds. */
  readonly nodeId: string;
  /**
   * The in-box backplane of this worker (its node id set): pass it to `new HubServer({ backplane })`
   * when no outside backplane is configured. With Redis, PostgreSQL or NATS, build that backplane
   * with {@link nodeId} instead: the workers of every machine are then nodes of that cluster.
   */
  inboxBackplane(options?: Omit<BackplaneCommonOptions, 'nodeId'>): Backplane;
  /**
   * Opens a listener of this worker alone on 127.0.0.1 (a port no other worker shares) and
   * resolves with it. Pass its `url` as the `HubServer`'s `advertiseUrl` (with a `clusterSecret`
   * the workers share) and hand it the HTTP server with `serve`: a request of a connection that
   * node:cluster gave to another worker (a WebSocket after a negotiate made here, a long poll, a
   * POST) is then forwarded here, so no request needs to reach the worker that holds it.
   */
  privateListener(): Promise<PrivateListener>;
}

/** A listener of one worker alone (see {@link ClusterWorkerContext.privateListener}). */
export interface PrivateListener {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Serves the connections it accepts with `server` (the same server that listens on the shared port). */
  serve(server: HttpServer): void;
  /** Stops listening. */
  close(): Promise<void>;
}

/** Opens a {@link PrivateListener} (exclusive: node:cluster does not share it with the other workers). */
async function openPrivateListener(): Promise<PrivateListener> {
  let target: HttpServer | undefined;
  const listener = createServer((socket: Socket) => {
    if (target) target.emit('connection', socket);
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  const { port } = listener.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    serve(server) {
      target = server;
      server.once('close', () => listener.close());
    },
    close: () => new Promise((resolve) => listener.close(() => resolve())),
  };
}

/**
 * What a worker's factory returns: something that drains and stops (a `HubServer`, or an object
 * that closes the hubs and the HTTP server). Listening is the factory's part: every worker listens
 * on the same port, which node:cluster shares.
 */
export interface ClusterWorkerApp {
  /** Drains and stops; the worker exits 0 once it resolves (1 if it rejects). */
  close(): Promise<void>;
}

/** Options of {@link clusterize}. */
export interface ClusterizeOptions {
  /** How many workers: a number from 1, or `auto` (one per available core). Default `auto`. */
  readonly workers?: number | 'auto';
  /** The machine's node id; worker k is `<nodeId>-<k>`. Default: the host name and a random suffix. */
  readonly nodeId?: string;
  /** Replace a worker that dies (not while draining). Default true. */
  readonly respawn?: boolean;
  /** How long the primary waits for the workers to drain before it kills them. Default 30 000 ms. */
  readonly drainTimeoutMs?: number;
  /** Stop on SIGTERM and SIGINT (the primary, and each worker on its own). Default true. */
  readonly handleSignals?: boolean;
  /** Logs of the primary (`cluster.worker_exit`, `cluster.drain`). Default: JSON lines, warn and up. */
  readonly logger?: Logger;
}

/** The primary's handle. */
export interface ClusterPrimary {
  readonly role: 'primary';
  /** The machine's node id (worker k is `<nodeId>-<k>`). */
  readonly nodeId: string;
  /** The in-box bus's broker. */
  readonly broker: InboxBroker;
  /** The limits every worker shares (docs/server.md#limits-with-workers). */
  readonly limits: LimitBroker;
  /** The workers alive now, by index. */
  workers(): ReadonlyMap<number, Worker>;
  /** Resolves with the port once every first-generation worker listens. */
  readonly listening: Promise<number>;
  /** Drains every worker (SIGKILL after `drainTimeoutMs`); resolves with the exit code to use. */
  stop(): Promise<number>;
}

/** A worker's handle. */
export interface ClusterWorker {
  readonly role: 'worker';
  /** The worker's context. */
  readonly context: ClusterWorkerContext;
  /** What the factory returned. */
  readonly app: ClusterWorkerApp;
}

/**
 * Runs `start` in `workers` processes of this machine that share the listening port, joined by
 * the in-box bus. Call it at the top of the program: the primary forks the workers, which run the
 * same program again; in a worker it calls `start` and resolves with the worker's handle.
 *
 * Limits: one machine (add a Redis, PostgreSQL or NATS backplane for several); the in-box bus has
 * no replay log (an IPC channel loses nothing while both ends live; when the primary dies, every
 * worker exits). The `HubServer`'s limits (connection and socket caps, negotiate rate, per-user
 * invocation budget) are shared by the workers through the primary; an app's own in-memory state
 * (its caches, its own limits) is its own unless the app shares it. See docs/server.md.
 *
 * @example
 * ```ts
 * await clusterize(
 *   async (worker) => {
 *     const hubs = new HubServer({ backplane: worker.inboxBackplane() });
 *     hubs.mapHub('/hubs/chat', ChatHub);
 *     const http = createServer();
 *     hubs.attach(http);
 *     await hubs.ready();
 *     http.listen(3000);
 *     return { close: async () => { await hubs.close(); http.close(); } };
 *   },
 *   { workers: 'auto' },
 * );
 * ```
 */
export async function clusterize(
  start: (worker: ClusterWorkerContext) => ClusterWorkerApp | Promise<ClusterWorkerApp>,
  options: ClusterizeOptions = {},
): Promise<ClusterPrimary | ClusterWorker> {
  return cluster.isPrimary ? runPrimary(options) : runWorker(start, options);
}

/** The number of workers `workers` asks for (`auto`: one per available core). */
export function workerCount(workers: number | 'auto' | undefined): number {
  if (workers === undefined || workers === 'auto') return availableParallelism();
  if (!Number.isSafeInteger(workers) || workers < 1) {
    throw new RangeError(`workers must be an integer from 1, or 'auto', got ${String(workers)}`);
  }
  return workers;
}

function runPrimary(options: ClusterizeOptions): ClusterPrimary {
  const count = workerCount(options.workers);
  const nodeId = options.nodeId ?? `${hostname()}-${randomUUID().slice(0, 8)}`;
  const logger = options.logger ?? createJsonLogger('warn');
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const broker = new InboxBroker();
  const limits = new LimitBroker();
  const byIndex = new Map<number, Worker>();
  let stopping: Promise<number> | undefined;
  const startedAt = new WeakMap<Worker, number>();

  cluster.setupPrimary({ serialization: 'advanced' });
  const fork = (index: number): Worker => {
    const worker = cluster.fork({
      [INDEX_ENV]: String(index),
      [NODE_ENV]: `${nodeId}-${index}`,
      [WORKER_COUNT_ENV]: String(count),
    });
    byIndex.set(index, worker);
    broker.attach(worker);
    limits.attach(worker);
    // A message sent as the worker's channel closes (it died) is reported as an 'error' event of
    // the worker: without a listener it would end the primary, and every worker with it.
    worker.on('error', (error: Error) =>
      logger.warn('cluster.worker_error', { worker: `${nodeId}-${index}`, error: error.message }),
    );
    worker.on('exit', (code, signal) => {
      if (byIndex.get(index) === worker) byIndex.delete(index);
      if (stopping) return;
      logger.warn('cluster.worker_exit', { worker: `${nodeId}-${index}`, code, signal });
      if (options.respawn === false) return;
      // A worker that keeps dying at start is retried after a second, not in a tight loop.
      const quick = Date.now() - startedAt.get(worker)! < 2_000;
      setTimeout(
        () => {
          if (!stopping) fork(index);
        },
        quick ? 1_000 : 0,
      );
    });
    startedAt.set(worker, Date.now());
    return worker;
  };

  const listening = new Promise<number>((resolve) => {
    const ready = new Set<number>();
    const onListening = (worker: Worker, address: { port: number }) => {
      for (const [index, w] of byIndex) if (w === worker) ready.add(index);
      if (ready.size >= count) {
        cluster.off('listening', onListening);
        resolve(address.port);
      }
    };
    cluster.on('listening', onListening);
  });
  for (let index = 1; index <= count; index++) fork(index);

  const stop = (): Promise<number> => {
    stopping ??= (async () => {
      logger.info('cluster.drain', { workers: byIndex.size });
      const workers = [...byIndex.values()];
      const codes = await Promise.all(
        workers.map(
          (worker) =>
            new Promise<number>((resolve) => {
              if (worker.isDead()) return resolve(worker.process.exitCode ?? 1);
              const timer = setTimeout(() => worker.process.kill('SIGKILL'), drainTimeoutMs);
              worker.once('exit', (code) => {
                clearTimeout(timer);
                resolve(code ?? 1);
              });
              try {
                worker.send({ sbCluster: 'drain' });
              } catch {
                worker.process.kill('SIGTERM');
              }
            }),
        ),
      );
      return codes.every((code) => code === 0) ? 0 : 1;
    })();
    return stopping;
  };
  if (options.handleSignals !== false) {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`${signal} again: exiting without draining\n`);
        for (const worker of byIndex.values()) worker.process.kill('SIGKILL');
        process.exit(1);
      }
      void stop().then((code) => process.exit(code));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  return { role: 'primary', nodeId, broker, limits, workers: () => byIndex, listening, stop };
}

async function runWorker(
  start: (worker: ClusterWorkerContext) => ClusterWorkerApp | Promise<ClusterWorkerApp>,
  options: ClusterizeOptions,
): Promise<ClusterWorker> {
  const index = Number(process.env[INDEX_ENV] ?? cluster.worker?.id ?? 1);
  const nodeId = process.env[NODE_ENV] ?? `${options.nodeId ?? hostname()}-${index}`;
  const context: ClusterWorkerContext = {
    index,
    nodeId,
    inboxBackplane: (backplaneOptions = {}) => inboxBackplane({ ...backplaneOptions, nodeId }),
    privateListener: openPrivateListener,
  };
  const app = await start(context);
  let draining: Promise<void> | undefined;
  const drain = () => {
    draining ??= app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(
          `Error while closing: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        process.exit(1);
      },
    );
  };
  process.on('message', (message: unknown) => {
    if (
      typeof message === 'object' &&
      message !== null &&
      (message as { sbCluster?: unknown }).sbCluster === 'drain'
    )
      drain();
  });
  // Without the primary there is no bus: the worker leaves rather than serve alone.
  process.on('disconnect', () => {
    if (!draining) process.exit(1);
  });
  if (options.handleSignals !== false) {
    process.on('SIGTERM', drain);
    process.on('SIGINT', drain);
  }
  return { role: 'worker', context, app };
}
