/**
 * Two chat nodes in this process over one PostgreSQL schema and one backplane (backplanes.ts), for
 * the cluster tests that run a scenario once per backplane: the nodes start, the scenario signs
 * users in and connects official clients through them (`register`, `connect`), and whatever
 * happens the nodes close and the run's schemas and backplane keys are removed.
 */
import type { TestContext } from 'node:test';
import { backplaneAvailable, type ChatBackplane } from './backplanes.ts';
import { type ChatTestServer, startChat } from './helpers.ts';
import { DATABASE_URL, dropRunSchemas } from './process-cluster.ts';

/** The two nodes a scenario runs on. */
export interface TwoNodes {
  /** Started first: it migrated the schema and made the JWT secret both use. */
  readonly a: ChatTestServer;
  readonly b: ChatTestServer;
  /** The run's name: the storage's schema and the backplane prefix hold it. */
  readonly run: string;
}

/** How to start the two nodes. */
export interface TwoNodesOptions {
  /** A short tag, unique per test file, that begins the run's name. */
  readonly name: string;
  /** The nodes' `NODE_ID`s; `node-a` and `node-b` by default. */
  readonly nodeIds?: readonly [string, string];
  /** More configuration for both nodes. */
  readonly env?: Record<string, string>;
}

/**
 * Runs `scenario` on two chat nodes over the schema `chat_<run>` and the backplane prefix
 * `sb-chat-test-<run>`, where the run is `<name>_<backplane>_<pid>_<time>`. Without PostgreSQL or
 * the backplane's services the test skips loudly and the scenario does not run (under CI=true it
 * fails instead). The nodes start one after the other (the first migrates the schema and keeps
 * the JWT secret); afterwards, passed or failed, the nodes close in reverse order (their clients
 * first; closing one the scenario closed already is harmless), every schema named after the run
 * is dropped and the backplane's keys under the prefix are removed.
 */
export async function withTwoNodes(
  t: TestContext,
  backplane: ChatBackplane,
  options: TwoNodesOptions,
  scenario: (nodes: TwoNodes) => Promise<void>,
): Promise<void> {
  if (!(await backplaneAvailable(t, backplane))) return;
  const run = `${options.name}_${backplane.name}_${process.pid}_${Date.now()}`.toLowerCase();
  const prefix = `sb-chat-test-${run}`;
  const [idA, idB] = options.nodeIds ?? ['node-a', 'node-b'];
  const env = (node: string) => ({
    DATABASE_URL,
    DATABASE_SCHEMA: `chat_${run}`,
    ...backplane.env(),
    BACKPLANE_PREFIX: prefix,
    NODE_ID: node,
    ...options.env,
  });
  const nodes: ChatTestServer[] = [];
  try {
    const a = await startChat(env(idA));
    nodes.push(a);
    const b = await startChat(env(idB));
    nodes.push(b);
    await scenario({ a, b, run });
  } finally {
    for (const node of nodes.reverse()) await node.close();
    await dropRunSchemas(run);
    await backplane.cleanup(prefix).catch(() => undefined);
  }
}
