#!/usr/bin/env node
// The `switchboard` command: runs the built service (npm run build first inside the repository).
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`switchboard: ${error?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
