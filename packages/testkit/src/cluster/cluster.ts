/**
 * A test cluster: three conformance server processes on one backplane behind haproxy, official
 * clients connected through it, and a way to tell on which node each connection lives.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { HubConnection } from '@microsoft/signalr';
import { type ClientOptions, connectClient } from '../clients.js';
import { HAPROXY_ROUNDROBIN_CONFIG, HAPROXY_SERVERS, Haproxy } from './haproxy.js';
import { type BackplaneSpec, NodeProcess } from './node-process.js';
import { ChildHandle } from './processes.js';

/** Settings of {@link startCluster}. */
export interface ClusterOptions {
  /** The backplane every node joins. */
  backplane: BackplaneSpec;
  /** The backplane of node `i` when it differs (e.g. the same one through a fault proxy). */
  nodeBackplane?: (index: number) => BackplaneSpec;
  /** `--lease-ms` of every node. */
  leaseMs?: number;
  /** `--presence-grace-ms` of every node. */
  presenceGraceMs?: number;
  /** Prefix of the cluster's keys and channels. Default: a new unique one. */
  prefix?: string;
  /**
   * How haproxy spreads requests: `sticky` (deploy/haproxy/switchboard.cfg, a cookie keeps a
   * client on its node) or `roundrobin` (switchboard-roundrobin.cfg, each request to the next
   * node, forwarded to the owner). Default `sticky`.
   */
  balancer?: 'sticky' | 'roundrobin';
}

/** Three nodes behind haproxy. */
export interface Cluster {
  /** The nodes, `node1`..`node3` (their haproxy server names; node ids `node1-<tag>`...). */
  readonly nodes: readonly NodeProcess[];
  /** The load balancer. */
  readonly lb: Haproxy;
  /** The load balancer's base URL: what clients use. */
  readonly url: string;
  /** The prefix the nodes share. */
  readonly prefix: string;
  /** The shared JWT secret. */
  readonly jwtSecret: string;
  /** A token for `user`, issued by node1's `/generateJwtToken` (every node accepts it). */
  token(user: string): Promise<string>;
  /**
   * Connects an official client to `path` through the load balancer (as `user` when given) and
   * returns it with the node it lives on and its connection id. With `node`, connects again
   * (stopping the misplaced connections) until the load balancer puts it there, at most 30 times.
   */
  connect(path: string, options?: ClientOptions & { user?: string; node?: string }): Promise<ClusterClient>;
  /** Stops the clients it connected, the load balancer and the nodes still running. */
  close(): Promise<void>;
}

/** A client of the cluster and where it is. */
export interface ClusterClient {
  readonly connection: HubConnection;
  /**
   * The connection id, asked from the hub (`GetCallerConnectionId`): with `skipNegotiation` the
   * client itself never learns it.
   */
  readonly id: string;
  /** The node the connection lives on now (haproxy's server name, asked from the hub). */
  readonly node: string;
  /** The user it connected as, if any. */
  readonly user: string | undefined;
}

/**
 * The node a TestHub connection lives on, by its haproxy server name: the hub's `GetNodeId`
 * answers the node id (`<server name>-<tag>`). Without sticky sessions the request that opened
 * the transport may have landed elsewhere (and been forwarded), so its `X-Switchboard-Node` is
 * not where the connection lives.
 */
export async function nodeOf(connection: HubConnection): Promise<string> {
  const nodeId = await connection.invoke<string>('GetNodeId');
  const name = HAPROXY_SERVERS.find((server) => nodeId.startsWith(`${server}-`));
  if (!name) throw new Error(`the connection lives on '${nodeId}', not a node of the test cluster`);
  return name;
}

/**
 * How many connections `connect` makes at most to place a client on a chosen node (a third of
 * them land there on average, by cookie or by the round-robin's turn).
 */
const MAX_PLACEMENT_ATTEMPTS = 30;

/** Starts three conformance server processes on one backplane, and haproxy in front of them. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const prefix = options.prefix ?? `sb-cluster-${randomUUID()}:`;
  const jwtSecret = randomUUID();
  const tag = randomUUID().slice(0, 8);
  const nodes: NodeProcess[] = [];
  const clients: HubConnection[] = [];
  let lb: Haproxy | undefined;
  const close = async () => {
    await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
    await lb?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    const started = await Promise.all(
      HAPROXY_SERVERS.map((name, i) =>
        NodeProcess.start({
          // Unique across clusters (a backend's application_name, a Redis client name).
          nodeId: `${name}-${tag}`,
          backplane: options.nodeBackplane?.(i) ?? options.backplane,
          prefix,
          jwtSecret,
          ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
          ...(options.presenceGraceMs !== undefined ? { presenceGraceMs: options.presenceGraceMs } : {}),
        }),
      ),
    );
    nodes.push(...started);
    lb = await Haproxy.start(
      nodes.map((n) => n.port),
      options.balancer === 'roundrobin' ? { config: HAPROXY_ROUNDROBIN_CONFIG } : {},
    );
  } catch (error) {
    await close();
    await ChildHandle.killAll();
    throw error;
  }
  const balancer = lb;
  const token = async (user: string) => {
    const response = await fetch(`${nodes[0]!.url}/generateJwtToken?user=${encodeURIComponent(user)}`);
    if (response.status !== 200) throw new Error(`generateJwtToken answered ${response.status}`);
    return response.text();
  };
  return {
    nodes,
    lb: balancer,
    url: balancer.url,
    prefix,
    jwtSecret,
    token,
    async connect(path, connectOptions = {}) {
      const { user, node: wanted, ...rest } = connectOptions;
      const bearer = user === undefined ? undefined : await token(user);
      for (let attempt = 1; ; attempt++) {
        const connection = await connectClient(
          `${balancer.url}${path}`,
          bearer === undefined ? rest : { ...rest, accessTokenFactory: () => bearer },
        );
        clients.push(connection);
        const node = await nodeOf(connection);
        if (wanted === undefined || node === wanted) {
          const id = await connection.invoke<string>('GetCallerConnectionId');
          return { connection, id, node, user };
        }
        await connection.stop();
        if (attempt === MAX_PLACEMENT_ATTEMPTS) {
          throw new Error(`the load balancer never chose ${wanted} in ${MAX_PLACEMENT_ATTEMPTS} connections`);
        }
        // A random number of requests more shifts a round-robin balancer's rotation: a connection
        // makes a fixed number of requests, so without it every attempt could land on one node.
        for (let shift = Math.floor(Math.random() * 3); shift > 0; shift--) {
          await fetch(`${balancer.url}/generateJwtToken?user=shift`)
            .then((r) => r.arrayBuffer())
            .catch(() => undefined);
        }
      }
    },
    close,
  };
}
