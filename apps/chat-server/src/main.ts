#!/usr/bin/env node
/**
 * The chat server's command line.
 *
 *   node dist/main.js [start]              serve on PORT (default 3000)
 *   node dist/main.js add-agent USERNAME   give a user the agent role
 *   node dist/main.js set-role USERNAME ROLE   user, agent or admin
 *   node dist/main.js create-api-key NAME  a server API key, printed once as the last line
 *   node dist/main.js list-api-keys        the keys' names, prefixes and dates
 *   node dist/main.js revoke-api-key NAME  the key stops working at once, on every node
 *   node dist/main.js add-webhook URL      add a webhook endpoint (prints its secret last)
 *   node dist/main.js list-webhooks        the webhook endpoints
 *   node dist/main.js remove-webhook ID    remove one
 *
 * Every command reads the same configuration (environment variables, see config.ts). SIGTERM and
 * SIGINT drain the hub connections and exit 0. With `WORKERS` above 1 (or `auto` on a machine of
 * several cores), `start` runs the server on that many worker processes sharing the port
 * (`clusterize`): the primary migrates the storage, forks the workers (node `<NODE_ID>-<k>`
 * each), replaces one that dies, and on SIGTERM drains them all before it exits 0.
 * @module
 */
import cluster from 'node:cluster';
import { clusterize, workerCount } from '@switchboard/server';
import { createChatApp } from './app.js';
import { type ChatConfig, loadConfig } from './config.js';
import { ChatError } from './errors.js';
import { apiKeyCommand } from './http/api-v1/api-key-cli.js';
import { createStorage } from './storage/create-storage.js';
import { startProcessTelemetry } from './telemetry.js';
import { runWebhookCommand } from './webhooks/cli.js';

/** `start` with workers: resolves in the primary once every worker listens (-1: keep running). */
async function startWorkers(config: ChatConfig, workers: number): Promise<number> {
  const handle = await clusterize(
    async (worker) => {
      // In each worker, before its app: the SDK registers the process's tracer provider.
      await startProcessTelemetry();
      const app = await createChatApp({ ...config, nodeId: worker.nodeId }, { worker });
      await app.listen();
      return app;
    },
    { workers, nodeId: config.nodeId },
  );
  if (handle.role === 'primary') {
    const port = await handle.listening;
    const host = config.host ?? 'localhost';
    const shown = host.includes(':') ? `[${host}]` : host;
    process.stdout.write(
      `Switchboard chat listening on http://${shown === '0.0.0.0' || shown === '[::]' ? 'localhost' : shown}:${port} (storage: ${config.databaseUrl ? 'postgres' : 'sqlite'}, workers: ${workers})\n`,
    );
  }
  return -1;
}

/** Migrates the storage once, in the primary, before the workers start. */
async function prepareStorage(config: ChatConfig): Promise<void> {
  const storage = createStorage(config);
  try {
    await storage.migrate();
  } finally {
    await storage.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command = 'start', ...rest] = argv;
  const config = loadConfig();
  if (command === 'start') {
    const workers = workerCount(config.workers);
    if (workers > 1) {
      if (cluster.isPrimary) await prepareStorage(config);
      return startWorkers(config, workers);
    }
    // Before the app: the SDK registers the global tracer provider and context manager.
    const sdk = await startProcessTelemetry();
    const app = await createChatApp(config);
    const url = await app.listen();
    process.stdout.write(`Switchboard chat listening on ${url} (storage: ${app.storage.kind})\n`);
    const stop = () => {
      app
        .close()
        .then(() => sdk?.shutdown())
        .then(
          () => process.exit(0),
          () => process.exit(1),
        );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    return -1; // keep running
  }
  if (command === 'add-agent' || command === 'set-role') {
    const username = rest[0];
    const role = command === 'add-agent' ? 'agent' : rest[1];
    if (!username || !role) {
      process.stderr.write(
        `usage: ${command === 'add-agent' ? 'add-agent USERNAME' : 'set-role USERNAME ROLE'}\n`,
      );
      return 2;
    }
    const app = await createChatApp({ ...config, logLevel: 'warn' });
    try {
      const user = await app.accounts.setRole(username, role);
      process.stdout.write(`${user.username} is now ${user.role}\n`);
      return 0;
    } finally {
      await app.close();
    }
  }
  const keys = await apiKeyCommand(command, rest, config);
  if (keys !== undefined) return keys;
  const webhookExit = await runWebhookCommand(command, rest, config);
  if (webhookExit !== undefined) return webhookExit;
  process.stderr.write(
    `unknown command '${command}' (start, add-agent USERNAME, set-role USERNAME ROLE, create-api-key NAME, list-api-keys, revoke-api-key NAME, add-webhook URL, list-webhooks, remove-webhook ID)\n`,
  );
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const text = error instanceof ChatError ? `${error.code}: ${error.message}` : String(error);
    process.stderr.write(`${text}\n`);
    process.exit(1);
  },
);
