/**
 * `switchboard serve`: the command line. Flags win over the environment, which wins over the
 * config file (`--config FILE`, JSON); `--help` lists everything.
 * @module
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { clusterize, createJsonLogger, workerCount } from '@switchboard/server';
import { InboxUserGroupHost } from '@switchboard/server/scaleout';
import {
  type ConfigFile,
  limitDefaults,
  parseConfigFile,
  resolveConfig,
  type ServiceConfig,
} from './config.js';
import { ServiceError } from './errors.js';
import { SwitchboardService } from './service.js';

/** The text of `switchboard --help`. */
export const HELP = `Usage: switchboard serve [options]

A self-hosted service compatible with Azure SignalR Service's data-plane REST API
(api-version 2022-06-01) and upstream webhooks, for the official SignalR clients.

Options (flag / environment variable / config file field):
  --port N              PORT                        port         Port to listen on (default 8080; 0: any free port)
  --host HOST           SWITCHBOARD_HOST            host         Address to bind (default 0.0.0.0)
  --hub NAME            SWITCHBOARD_HUBS (a,b,c)    hubs         A hub clients may connect to; repeat for several (required)
  --access-key KEY      SWITCHBOARD_ACCESS_KEY      accessKey    Key that signs tokens (HS256); repeat for rotation:
                                                    accessKeys   tokens signed with any listed key pass (required)
  --upstream TEMPLATE   SWITCHBOARD_UPSTREAM        upstream     Upstream URL template with {hub}, {category}, {event}
  --connect-event       SWITCHBOARD_CONNECT_EVENT=1 connectEvent Send the blocking connections/connect event upstream
  --public-url URL      SWITCHBOARD_PUBLIC_URL      publicUrl    The origin clients and servers use, for token audiences
  --cors-origin ORIGIN  SWITCHBOARD_CORS_ORIGINS    cors.origins Browser origin allowed to connect; repeat for several
  --backplane KIND      SWITCHBOARD_BACKPLANE       backplane.kind  none (default), redis, postgres or nats
  --backplane-url URL   SWITCHBOARD_BACKPLANE_URL   backplane.url   The backplane's URL (redis://…, postgres://…, nats://…)
  --backplane-prefix P  SWITCHBOARD_BACKPLANE_PREFIX backplane.prefix Keeps clusters apart (default switchboard-service:)
  --node-id ID          SWITCHBOARD_NODE_ID         backplane.nodeId This node's id in the cluster (default random)
  --log-level LEVEL     SWITCHBOARD_LOG_LEVEL       logLevel     debug, info (default), warn or error
  --workers N|auto      SWITCHBOARD_WORKERS         workers      Worker processes sharing the port, each a node (default 1;
                                                                 auto: one per core); no sticky sessions needed: a request
                                                                 reaching another worker is forwarded to its connection's
  --cluster-secret S    SWITCHBOARD_CLUSTER_SECRET  clusterSecret Signs forwarded requests between nodes (default: the
                                                                 first access key)
  --advertise-url URL   SWITCHBOARD_ADVERTISE_URL   advertiseUrl Where other nodes reach this one (one worker per node;
                                                                 with a backplane it turns forwarding on between nodes)
  --config FILE         SWITCHBOARD_CONFIG                       A JSON config file with the fields above and more
  -h, --help                                                     Show this help

Config file only (limits.*, with their defaults):
${Object.entries(limitDefaults)
  .map(([key, value]) => `  limits.${key.padEnd(24)} ${value}`)
  .join('\n')}
  hubs[i] may be an object: { "name": "chat", "upstream": "https://…/{event}", "connectEvent": true }

Clients connect to http://HOST:PORT/client/?hub=NAME with an HS256 JWT signed with an access key
(audience that URL, nameid the user id, exp required). The REST API lives under /api/.
Once listening it prints "Now listening on: http://HOST:PORT".
`;

/** The config layers of the environment. */
export function environmentLayer(env: NodeJS.ProcessEnv): ConfigFile {
  const layer: Record<string, unknown> = {};
  const list = (value: string) =>
    value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (env.PORT) layer.port = numberOf(env.PORT, 'PORT');
  if (env.SWITCHBOARD_HOST) layer.host = env.SWITCHBOARD_HOST;
  if (env.SWITCHBOARD_HUBS) layer.hubs = list(env.SWITCHBOARD_HUBS);
  if (env.SWITCHBOARD_ACCESS_KEY) layer.accessKeys = [env.SWITCHBOARD_ACCESS_KEY];
  if (env.SWITCHBOARD_UPSTREAM) layer.upstream = env.SWITCHBOARD_UPSTREAM;
  if (env.SWITCHBOARD_CONNECT_EVENT)
    layer.connectEvent = ['1', 'true', 'yes'].includes(env.SWITCHBOARD_CONNECT_EVENT);
  if (env.SWITCHBOARD_PUBLIC_URL) layer.publicUrl = env.SWITCHBOARD_PUBLIC_URL;
  if (env.SWITCHBOARD_CORS_ORIGINS) layer.cors = { origins: list(env.SWITCHBOARD_CORS_ORIGINS) };
  if (env.SWITCHBOARD_LOG_LEVEL) layer.logLevel = env.SWITCHBOARD_LOG_LEVEL;
  if (env.SWITCHBOARD_WORKERS) layer.workers = workersOf(env.SWITCHBOARD_WORKERS, 'SWITCHBOARD_WORKERS');
  if (env.SWITCHBOARD_CLUSTER_SECRET) layer.clusterSecret = env.SWITCHBOARD_CLUSTER_SECRET;
  if (env.SWITCHBOARD_ADVERTISE_URL) layer.advertiseUrl = env.SWITCHBOARD_ADVERTISE_URL;
  const backplane = backplaneLayer(
    env.SWITCHBOARD_BACKPLANE,
    env.SWITCHBOARD_BACKPLANE_URL,
    env.SWITCHBOARD_BACKPLANE_PREFIX,
    env.SWITCHBOARD_NODE_ID,
  );
  if (backplane) layer.backplane = backplane;
  return parseConfigFile(layer, 'environment');
}

/** Parses the arguments after `serve`; returns the layer of the flags and the config file's path. */
export function flagsLayer(args: readonly string[]): {
  layer: ConfigFile;
  configPath?: string;
  help: boolean;
} {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      hub: { type: 'string', multiple: true },
      'access-key': { type: 'string', multiple: true },
      upstream: { type: 'string' },
      'connect-event': { type: 'boolean' },
      'public-url': { type: 'string' },
      'cors-origin': { type: 'string', multiple: true },
      backplane: { type: 'string' },
      'backplane-url': { type: 'string' },
      'backplane-prefix': { type: 'string' },
      'node-id': { type: 'string' },
      'log-level': { type: 'string' },
      workers: { type: 'string' },
      'cluster-secret': { type: 'string' },
      'advertise-url': { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const layer: Record<string, unknown> = {};
  if (values.port !== undefined) layer.port = numberOf(values.port, '--port');
  if (values.host !== undefined) layer.host = values.host;
  if (values.hub) layer.hubs = values.hub.flatMap((h) => h.split(',')).filter(Boolean);
  if (values['access-key']) layer.accessKeys = values['access-key'];
  if (values.upstream !== undefined) layer.upstream = values.upstream;
  if (values['connect-event']) layer.connectEvent = true;
  if (values['public-url'] !== undefined) layer.publicUrl = values['public-url'];
  if (values['cors-origin']) layer.cors = { origins: values['cors-origin'] };
  if (values['log-level'] !== undefined) layer.logLevel = values['log-level'];
  if (values.workers !== undefined) layer.workers = workersOf(values.workers, '--workers');
  if (values['cluster-secret'] !== undefined) layer.clusterSecret = values['cluster-secret'];
  if (values['advertise-url'] !== undefined) layer.advertiseUrl = values['advertise-url'];
  const backplane = backplaneLayer(
    values.backplane,
    values['backplane-url'],
    values['backplane-prefix'],
    values['node-id'],
  );
  if (backplane) layer.backplane = backplane;
  return {
    layer: parseConfigFile(layer, 'flags'),
    ...(values.config !== undefined ? { configPath: values.config } : {}),
    help: values.help === true,
  };
}

/** Reads and checks a config file. */
export function fileLayer(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ServiceError(
      'SB_ERR_SVC_CONFIG_INVALID',
      `Invalid configuration: cannot read ${path}: ${(error as Error).message}`,
      400,
      'config',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ServiceError(
      'SB_ERR_SVC_CONFIG_INVALID',
      `Invalid configuration (${path}): not JSON: ${(error as Error).message}`,
      400,
      'config',
    );
  }
  return parseConfigFile(value, path);
}

/** The full configuration of a command line and environment. */
export function loadConfig(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { config?: ServiceConfig; help: boolean } {
  const flags = flagsLayer(args);
  if (flags.help) return { help: true };
  const configPath = flags.configPath ?? env.SWITCHBOARD_CONFIG;
  const file = configPath ? fileLayer(configPath) : {};
  const environment = environmentLayer(env);
  // A backplane given in pieces (a URL by flag, the kind in the file) merges field by field.
  const backplane = { ...file.backplane, ...environment.backplane, ...flags.layer.backplane };
  const merged = resolveConfig(
    file,
    environment,
    flags.layer,
    Object.keys(backplane).length > 0 ? { backplane: backplane as ConfigFile['backplane'] } : {},
  );
  return { config: merged, help: false };
}

/** Runs the command line; resolves with the exit code (the service keeps running until a signal). */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help' || command === undefined) {
    process.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'serve') {
    process.stderr.write(`Unknown command '${command}'. Run: switchboard serve --help\n`);
    return 2;
  }
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(rest, env);
  } catch (error) {
    process.stderr.write(
      `${error instanceof ServiceError ? error.message : `Invalid arguments: ${(error as Error).message}`}\n`,
    );
    return 2;
  }
  if (loaded.help || !loaded.config) {
    process.stdout.write(HELP);
    return 0;
  }
  const workers = workerCount(loaded.config.workers);
  if (workers > 1) return serveWorkers(loaded.config, workers);
  return serveOne(loaded.config);
}

/** One process: the service itself, until SIGTERM or SIGINT. */
async function serveOne(config: ServiceConfig): Promise<number> {
  const service = new SwitchboardService(config);
  let address: Awaited<ReturnType<SwitchboardService['start']>>;
  try {
    address = await service.start();
  } catch (error) {
    process.stderr.write(`switchboard: could not start: ${(error as Error).message}\n`);
    await service.close().catch(() => {});
    return 1;
  }
  process.stdout.write(`Now listening on: ${address.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await service.close();
  return 0;
}

/**
 * `workers` processes sharing the port (`clusterize`): the primary hosts the in-box bus and the
 * user-group memberships, forks the workers, prints the line once every worker listens and, on
 * SIGTERM or SIGINT, drains them all; each worker runs a node `<nodeId>-<k>`.
 */
async function serveWorkers(config: ServiceConfig, workers: number): Promise<number> {
  const primary = cluster.isPrimary;
  const userGroups = primary && config.backplane.kind === 'none' ? new InboxUserGroupHost() : undefined;
  const onFork = (worker: import('node:cluster').Worker) => userGroups?.attach(worker);
  if (userGroups) cluster.on('fork', onFork);
  const handle = await clusterize(
    async (worker) => {
      const service = new SwitchboardService(config, { worker });
      try {
        await service.start();
      } catch (error) {
        process.stderr.write(`switchboard: could not start: ${(error as Error).message}\n`);
        await service.close().catch(() => {});
        process.exit(1);
      }
      return service;
    },
    {
      workers,
      ...(config.backplane.nodeId !== undefined ? { nodeId: config.backplane.nodeId } : {}),
      // The primary's signals are handled here (so that main resolves with the exit code).
      handleSignals: !primary,
      logger: createJsonLogger(
        config.logLevel === 'debug' || config.logLevel === 'info' ? 'info' : config.logLevel,
      ),
    },
  );
  if (handle.role === 'worker') return new Promise<number>(() => {}); // it exits once drained
  // A worker that fails before every worker listens (a bad backplane URL...) stops them all.
  const failed = new Promise<'failed'>((resolve) => cluster.once('exit', () => resolve('failed')));
  const started = await Promise.race([handle.listening, failed]);
  if (started === 'failed') {
    await handle.stop();
    userGroups?.close();
    cluster.off('fork', onFork);
    return 1;
  }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  process.stdout.write(`Now listening on: http://${host}:${started}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  const code = await handle.stop();
  userGroups?.close();
  cluster.off('fork', onFork);
  return code;
}

function workersOf(value: string, name: string): number | 'auto' {
  return value === 'auto' ? 'auto' : numberOf(value, name);
}

function numberOf(value: string, name: string): number {
  if (!/^\d+$/.test(value)) {
    throw new ServiceError(
      'SB_ERR_SVC_CONFIG_INVALID',
      `Invalid configuration: ${name}: must be a whole number`,
      400,
      name,
    );
  }
  return Number(value);
}

function backplaneLayer(
  kind: string | undefined,
  url: string | undefined,
  prefix: string | undefined,
  nodeId: string | undefined,
): Record<string, unknown> | undefined {
  if (kind === undefined && url === undefined && prefix === undefined && nodeId === undefined)
    return undefined;
  return {
    ...(kind !== undefined ? { kind } : {}),
    ...(url !== undefined ? { url } : {}),
    ...(prefix !== undefined ? { prefix } : {}),
    ...(nodeId !== undefined ? { nodeId } : {}),
  };
}
