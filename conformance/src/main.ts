#!/usr/bin/env node
/**
 * Entry point: `node conformance/dist/main.js --port N` (see conformance/README.md for the flags).
 * Prints `Now listening on: http://<host>:<port>` once listening, as the .NET app does (and a
 * second line with the `https://` URL under `--https`); SIGTERM or
 * SIGINT drains the hubs and exits 0 (a second signal exits at once with 1). With `--workers N`
 * the primary forks the workers (`clusterize`), prints the line once every worker listens, and
 * drains them all on SIGTERM.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { clusterize, createJsonLogger, workerCount } from '@switchboard/server';
import { parseConformanceArgs, USAGE } from './options.js';
import { startConformanceServer } from './server.js';

const parsed = parseConformanceArgs(process.argv.slice(2), process.env);
if (parsed.kind === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (parsed.kind === 'error') {
  process.stderr.write(`${parsed.message}\n\n${USAGE}`);
  process.exit(2);
}

const workers = parsed.options.workers === undefined ? 1 : workerCount(parsed.options.workers);
if (workers > 1) {
  // The workers must accept each other's tokens: one secret for all of them.
  process.env.JWT_SECRET =
    parsed.options.jwtSecret ?? process.env.JWT_SECRET ?? randomBytes(32).toString('base64url');
  const options = { ...parsed.options, jwtSecret: process.env.JWT_SECRET };
  const handle = await clusterize(
    async (worker) => {
      try {
        return await startConformanceServer({ ...options, worker });
      } catch (error) {
        process.stderr.write(`Could not start: ${(error as Error).message}\n`);
        process.exit(1);
      }
    },
    {
      workers,
      ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}),
      logger: createJsonLogger('warn'),
    },
  );
  if (handle.role === 'primary') {
    const port = await handle.listening;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    process.stdout.write(`Now listening on: http://${host}:${port}\n`);
  }
} else {
  await serveOne(parsed.options);
}

async function serveOne(options: Parameters<typeof startConformanceServer>[0]): Promise<void> {
  let server: Awaited<ReturnType<typeof startConformanceServer>>;
  try {
    server = await startConformanceServer(options);
  } catch (error) {
    process.stderr.write(`Could not start: ${(error as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`Now listening on: ${server.url}\n`);
  if (server.httpsUrl) process.stdout.write(`Now listening on: ${server.httpsUrl}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting without draining\n`);
      process.exit(1);
    }
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Error while closing: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
