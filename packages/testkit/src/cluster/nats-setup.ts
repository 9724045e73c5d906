/**
 * The NATS backplane for the cluster suites: the machine's nats-server with JetStream (env
 * `NATS_URL`, default `nats://127.0.0.1:4222`), the clean-up of a test cluster's streams and
 * bucket, and a restart of a private nats-server (its JetStream store kept on disk).
 * @module
 */
import type { TestContext } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { requireService } from '../services.js';
import type { BackplaneFault } from './faults.js';
import type { ClusterBackplaneSetup } from './lb-suite.js';
import { OwnNats } from './own-nats.js';
import { sleep } from './processes.js';

/** The NATS the cluster suites use. */
export const CLUSTER_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/**
 * Deletes the streams (and key-value buckets, which are streams) of a cluster prefix: the NATS
 * backplane names them after the prefix's letters and digits, so a prefix with a unique part (the
 * suites' `sb-cluster-<uuid>:`) finds exactly its own.
 */
export async function deleteNatsPrefix(url: string, prefix: string): Promise<void> {
  const marker = prefix
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 40);
  if (marker.length < 16) throw new Error(`prefix '${prefix}' is too short to find its streams safely`);
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) if (name.includes(marker)) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

/** How many clients are connected to a private nats-server (its monitoring endpoint `/connz`). */
async function connectedClients(server: OwnNats): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${server.monitorPort}/connz`);
  const body = (await response.json()) as { num_connections: number };
  return body.num_connections;
}

/** The machine's NATS as the cluster suites' backplane (skipped loudly when it is down). */
export const natsClusterSetup: ClusterBackplaneSetup = {
  name: 'NATS',
  require(t: TestContext) {
    const { hostname, port } = new URL(CLUSTER_NATS_URL);
    return requireService(t, { kind: 'tcp', name: 'NATS', host: hostname, port: Number(port || 4222) });
  },
  spec: () => ({ kind: 'nats', url: CLUSTER_NATS_URL }),
  cleanup: (prefix) => deleteNatsPrefix(CLUSTER_NATS_URL, prefix),
};

/**
 * A restart of a private nats-server (SIGTERM, then started again on the same port with the same
 * JetStream store) that every node uses. The store survives, so nothing may be lost.
 */
export async function natsRestartFault(): Promise<BackplaneFault> {
  const nats = await OwnNats.start();
  let clientsBefore = 0;
  return {
    name: 'nats-server restarted (stop, wait, start; JetStream store kept)',
    spec: () => ({ kind: 'nats', url: nats.url }),
    begin: async () => {
      clientsBefore = await connectedClients(nats);
      if (clientsBefore === 0) throw new Error('no node is connected to nats-server');
      await nats.stop('SIGTERM');
    },
    end: async () => {
      await nats.start();
      // The nodes reconnect by themselves; the fault is over once all their connections are back.
      const deadline = Date.now() + 15_000;
      while ((await connectedClients(nats)) < clientsBefore) {
        if (Date.now() > deadline) throw new Error('the nodes did not reconnect to nats-server within 15 s');
        await sleep(50);
      }
    },
    mayLoseInFlight: false,
    dispose: () => nats.dispose(),
  };
}
