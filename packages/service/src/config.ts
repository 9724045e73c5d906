/**
 * The service's configuration: one schema (zod, a Standard Schema library) for the config file,
 * and the merge of file, environment and command-line flags (flags win over the environment,
 * which wins over the file). A bad field refuses the start with its path named.
 * @module
 */
import { z } from 'zod';
import { ServiceError } from './errors.js';

/** Hub names as the reference: a letter first, then letters, digits or underscores. */
export const HUB_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;

/** The defaults of every limit, as documented in the package README. */
export const limitDefaults = {
  /** How long an upstream request may take before it counts as failed. */
  upstreamTimeoutMs: 20_000,
  /** Retries of a connected or disconnected event after a failure (invocations are not retried). */
  upstreamRetries: 3,
  /** The first retry's delay; each next one doubles it. */
  upstreamRetryDelayMs: 500,
  /** The largest upstream response body read, and the largest REST request body accepted. */
  maxBodyBytes: 1024 * 1024,
  /** The longest hub name. */
  maxHubNameLength: 128,
  /** The longest group name (the reference: more than 0 and less than 1025). */
  maxGroupNameLength: 1024,
  /** The longest user id. */
  maxUserIdLength: 1024,
  /** How long a REST call waits for the other nodes of the cluster to answer a query. */
  clusterTimeoutMs: 2_000,
  /** The largest hub message a client may send (bytes, with its framing). */
  maxClientMessageBytes: 32 * 1024,
} as const;

// The length limit is checked against limits.maxHubNameLength once the layers are merged.
const hubName = z
  .string()
  .min(1)
  .regex(HUB_NAME_PATTERN, 'must start with a letter and hold only letters, digits or underscores');

const urlTemplate = z
  .string()
  .refine((value) => URL.canParse(value.replace(/\{(hub|category|event)\}/g, 'x')), 'must be an http(s) URL')
  .refine((value) => /^https?:\/\//i.test(value), 'must be an http(s) URL');

const hubEntry = z.union([
  hubName,
  z.strictObject({
    name: hubName,
    /** The hub's own upstream URL template (else the service-wide one). */
    upstream: urlTemplate.optional(),
    /** Whether the blocking `connections/connect` event is sent for this hub. */
    connectEvent: z.boolean().optional(),
  }),
]);

const positiveInt = z.number().int().positive();

/** The JSON config file's schema. Every field is optional; flags and environment may fill them. */
export const configFileSchema = z.strictObject({
  port: z.number().int().min(0).max(65_535).optional(),
  host: z.string().min(1).optional(),
  /** The public origin clients and servers use (`https://signalr.example.com`), for token audiences. */
  publicUrl: z.url().optional(),
  hubs: z.array(hubEntry).optional(),
  /** One access key. */
  accessKey: z.string().min(1).optional(),
  /** Several access keys, all valid at once (rotation): tokens signed with any of them pass. */
  accessKeys: z.array(z.string().min(1)).min(1).optional(),
  /** The upstream URL template of every hub without its own. */
  upstream: urlTemplate.optional(),
  /** Send the blocking `connections/connect` event to the upstream (every hub). */
  connectEvent: z.boolean().optional(),
  cors: z.strictObject({ origins: z.array(z.string().min(1)) }).optional(),
  backplane: z
    .strictObject({
      kind: z.enum(['none', 'redis', 'postgres', 'nats']).optional(),
      url: z.string().min(1).optional(),
      /** Keeps clusters apart on one backend. Default `switchboard-service:`. */
      prefix: z.string().min(1).optional(),
      /** This node's id in the cluster. Default: a random UUID. */
      nodeId: z.string().min(1).optional(),
    })
    .optional(),
  limits: z
    .strictObject({
      upstreamTimeoutMs: positiveInt.optional(),
      upstreamRetries: z.number().int().min(0).max(20).optional(),
      upstreamRetryDelayMs: positiveInt.optional(),
      maxBodyBytes: positiveInt.optional(),
      maxHubNameLength: positiveInt.optional(),
      maxGroupNameLength: positiveInt.optional(),
      maxUserIdLength: positiveInt.optional(),
      clusterTimeoutMs: positiveInt.optional(),
      maxClientMessageBytes: positiveInt.optional(),
    })
    .optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).optional(),
  /**
   * Worker processes sharing the port (node:cluster), each a node of the cluster: a number from 1,
   * or `auto` (one per available core). Default 1.
   */
  workers: z.union([z.number().int().min(1).max(1024), z.literal('auto')]).optional(),
  /**
   * The secret the nodes (and workers) share to sign connection tokens and forwarded requests, so
   * that any node may take any request of a connection. Default: the first access key.
   */
  clusterSecret: z.string().min(1).optional(),
  /**
   * Where the other nodes reach this one (`http://host:port`) to forward a request of a connection
   * it holds. Default: the address each negotiate came in on (with workers: each worker's own).
   */
  advertiseUrl: z
    .string()
    .regex(/^https?:\/\/[^/?#]+\/?$/, 'must be http://host:port or https://host:port')
    .optional(),
});

/** The config file as written. */
export type ConfigFile = z.infer<typeof configFileSchema>;

/** One hub as the service runs it. */
export interface HubConfig {
  readonly name: string;
  readonly upstream: string | undefined;
  readonly connectEvent: boolean;
}

/** The configuration with every default applied. */
export interface ServiceConfig {
  readonly port: number;
  readonly host: string;
  readonly publicUrl: string | undefined;
  readonly hubs: readonly HubConfig[];
  readonly accessKeys: readonly string[];
  readonly corsOrigins: readonly string[];
  readonly backplane: {
    readonly kind: 'none' | 'redis' | 'postgres' | 'nats';
    readonly url: string | undefined;
    readonly prefix: string;
    readonly nodeId: string | undefined;
  };
  readonly limits: { readonly [K in keyof typeof limitDefaults]: number };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** How many worker processes (`auto`: one per available core). */
  readonly workers: number | 'auto';
  /** The secret of the forwarded requests (see {@link configFileSchema}); undefined: the first access key. */
  readonly clusterSecret: string | undefined;
  /** This node's address for forwarded requests; undefined: each negotiate's own address. */
  readonly advertiseUrl: string | undefined;
}

/** Validates a parsed config file; throws `SB_ERR_SVC_CONFIG_INVALID` naming the first bad field. */
export function parseConfigFile(value: unknown, source = 'config'): ConfigFile {
  const result = configFileSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : '(root)';
  throw new ServiceError(
    'SB_ERR_SVC_CONFIG_INVALID',
    `Invalid configuration (${source}): ${field}: ${issue.message}`,
    400,
    field,
  );
}

/**
 * Merges layers (later ones win, field by field) into a full {@link ServiceConfig}, checking what
 * only the whole can tell: at least one hub and one access key, unique hub names, a backplane URL
 * for a backplane that needs one.
 */
export function resolveConfig(...layers: ConfigFile[]): ServiceConfig {
  const merged: ConfigFile = {};
  for (const layer of layers) {
    // The keys of a layer replace the keys of the layers before it, whichever field holds them.
    if (layer.accessKey !== undefined || layer.accessKeys !== undefined) {
      delete merged.accessKey;
      delete merged.accessKeys;
    }
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    }
  }
  const checked = parseConfigFile(merged, 'merged');
  const fail = (field: string, message: string): never => {
    throw new ServiceError(
      'SB_ERR_SVC_CONFIG_INVALID',
      `Invalid configuration: ${field}: ${message}`,
      400,
      field,
    );
  };
  const limits = { ...limitDefaults, ...(checked.limits ?? {}) };
  const hubs = (checked.hubs ?? []).map(
    (entry): HubConfig =>
      typeof entry === 'string'
        ? { name: entry, upstream: checked.upstream, connectEvent: checked.connectEvent ?? false }
        : {
            name: entry.name,
            upstream: entry.upstream ?? checked.upstream,
            connectEvent: entry.connectEvent ?? checked.connectEvent ?? false,
          },
  );
  if (hubs.length === 0) fail('hubs', 'at least one hub is required (--hub, SWITCHBOARD_HUBS)');
  const seen = new Set<string>();
  for (const [i, hub] of hubs.entries()) {
    const key = hub.name.toLowerCase();
    if (seen.has(key)) fail(`hubs.${i}`, `the hub '${hub.name}' is listed twice (names ignore case)`);
    if (hub.name.length > limits.maxHubNameLength)
      fail(`hubs.${i}`, `longer than limits.maxHubNameLength (${limits.maxHubNameLength})`);
    if (hub.connectEvent && !hub.upstream) fail(`hubs.${i}`, 'connectEvent needs an upstream URL template');
    seen.add(key);
  }
  const accessKeys = [...(checked.accessKeys ?? []), ...(checked.accessKey ? [checked.accessKey] : [])];
  if (accessKeys.length === 0)
    fail('accessKey', 'an access key is required (--access-key, SWITCHBOARD_ACCESS_KEY)');
  const backplane = { ...checked.backplane, kind: checked.backplane?.kind ?? 'none' };
  if (backplane.kind !== 'none' && !backplane.url)
    fail('backplane.url', `the ${backplane.kind} backplane needs a URL (--backplane-url)`);
  if (checked.advertiseUrl !== undefined && (checked.workers ?? 1) !== 1)
    fail('advertiseUrl', 'names one process: with workers, each worker forwards on its own address');
  return {
    port: checked.port ?? 8080,
    host: checked.host ?? '0.0.0.0',
    publicUrl: checked.publicUrl?.replace(/\/+$/, ''),
    hubs,
    accessKeys: [...new Set(accessKeys)],
    corsOrigins: checked.cors?.origins ?? [],
    backplane: {
      kind: backplane.kind,
      url: backplane.url,
      prefix: backplane.prefix ?? 'switchboard-service:',
      nodeId: backplane.nodeId,
    },
    limits,
    logLevel: checked.logLevel ?? 'info',
    workers: checked.workers ?? 1,
    clusterSecret: checked.clusterSecret,
    advertiseUrl: checked.advertiseUrl?.replace(/\/+$/, ''),
  };
}
