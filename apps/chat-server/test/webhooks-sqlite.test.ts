// The webhooks' outbox and dispatcher on SQLite (the suite in webhooks-suite.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStorage } from '@switchboard/chat-server';
import Database from 'better-sqlite3';
import { webhooksSuite } from './webhooks-suite.ts';

webhooksSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'whkh-sqlite-'));
  let storage: SqliteStorage | undefined;
  return {
    async open() {
      storage = new SqliteStorage(join(dir, 'chat.sqlite'));
      await storage.migrate();
      return storage;
    },
    async exec(_s, sql) {
      // Another connection to the same file, as a second process would have.
      const db = new Database(join(dir, 'chat.sqlite'));
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    async cleanup() {
      await storage?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
