#!/usr/bin/env node
/**
 * Entry point: `node conformance/dist/main.js --port N` (see conformance/README.md for the flags).
 * Prints `Now listening on: http://<host>:<port>` once listening, as the .NET app does (and a
 * second line with the `https://` URL under `--https`); SIGTERM or
 * SIGINT drains the hubs and exits 0 (a second signal exits at once with 1).
 * @module
 */
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

let server: Awaited<ReturnType<typeof startConformanceServer>>;
try {
  server = await startConformanceServer(parsed.options);
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
