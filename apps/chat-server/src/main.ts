#!/usr/bin/env node
/**
 * The chat server's command line.
 *
 *   node dist/main.js [start]              serve on PORT (default 3000)
 *   node dist/main.js add-agent USERNAME   give a user the agent role
 *   node dist/main.js set-role USERNAME ROLE   user, agent or admin
 *
 * Every command reads the same configuration (environment variables, see config.ts). SIGTERM and
 * SIGINT drain the hub connections and exit 0.
 * @module
 */
import { createChatApp } from './app.js';
import { loadConfig } from './config.js';
import { ChatError } from './errors.js';
import { startProcessTelemetry } from './telemetry.js';

async function main(argv: string[]): Promise<number> {
  const [command = 'start', ...rest] = argv;
  const config = loadConfig();
  if (command === 'start') {
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
  process.stderr.write(`unknown command '${command}' (start, add-agent USERNAME, set-role USERNAME ROLE)\n`);
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
