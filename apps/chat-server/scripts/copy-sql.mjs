#!/usr/bin/env node
// Copies the chat server's SQL files (migrations and named queries) next to the compiled storage,
// where storage/sql-files.js reads them: src/storage/sql/*.sql -> dist/storage/sql/.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';

const from = new URL('../src/storage/sql/', import.meta.url);
const to = new URL('../dist/storage/sql/', import.meta.url);
mkdirSync(to, { recursive: true });
for (const file of readdirSync(from)) {
  if (file.endsWith('.sql')) copyFileSync(new URL(file, from), new URL(file, to));
}
