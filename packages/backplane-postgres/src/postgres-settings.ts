/**
 * Connection settings shared by the PostgreSQL bus and presence: a URL or pg settings as client
 * settings, and the bus settings of a node from the lifetime manager's options.
 * @module
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { schemaFromPrefix } from './migrations.js';
import type { PostgresBusSettings } from './postgres-bus.js';
import type { PostgresBusOptions } from './postgres-hub-lifetime-manager-options.js';

/** A URL or settings, as pg client settings. */
export function clientConfig(value: string | pg.ClientConfig): pg.ClientConfig {
  return typeof value === 'string' ? { connectionString: value } : { ...value };
}

/** The schema a node's bus uses: `schema`, else `schemaFromPrefix(prefix)`. */
export function busSchema(options: Pick<PostgresBusOptions, 'schema' | 'prefix'>): string {
  return options.schema ?? schemaFromPrefix(options.prefix ?? 'switchboard:');
}

/** The settings of a node's buses (every hub's) from the options. */
export function busSettings(options: PostgresBusOptions, nodeId: string): PostgresBusSettings {
  const schema = busSchema(options);
  const applicationName = Buffer.from(options.applicationName ?? `switchboard:${nodeId}`)
    .subarray(0, 63)
    .toString();
  const base: pg.PoolConfig = {
    connectionTimeoutMillis: 5_000,
    // Idle connections stay open: a send goes out at once instead of waiting for a new one.
    idleTimeoutMillis: 0,
    ...clientConfig(options.pg ?? 'postgres://postgres@127.0.0.1:5432/postgres'),
  };
  const listen: pg.ClientConfig =
    options.listen === undefined ? base : { connectionTimeoutMillis: 5_000, ...clientConfig(options.listen) };
  return {
    pool: { max: options.poolSize ?? 2, ...base, application_name: applicationName },
    listen: { ...listen, application_name: applicationName },
    schema,
    notifyChannel: `switchboard_bus_${createHash('sha1').update(schema).digest('hex').slice(0, 12)}`,
    maxAgeMs: options.maxAgeMs ?? 60_000,
    maxRows: options.maxRows ?? 100_000,
    maxQueuedPublishes: options.maxQueuedPublishes ?? 10_000,
    pollIntervalMs: options.pollIntervalMs ?? 1_000,
    trimIntervalMs: options.trimIntervalMs ?? 5_000,
    nodeLeaseMs: options.nodeLeaseMs ?? 15_000,
    subscribeTimeoutMs: options.ackTimeoutMs ?? 5_000,
  };
}
