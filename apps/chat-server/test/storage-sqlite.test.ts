// The storage contract on SQLite: several instances (connections) over one file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChatStorage, SqliteStorage } from '@switchboard/chat-server';
import { storageSuite } from './storage-suite.ts';

storageSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-chat-sqlite-'));
  const file = join(dir, 'chat.sqlite');
  const opened: SqliteStorage[] = [];
  return {
    async open(): Promise<ChatStorage> {
      const storage = new SqliteStorage(file);
      await storage.migrate();
      opened.push(storage);
      return storage;
    },
    async raw(sql) {
      return opened[0]!.rawAll(sql);
    },
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
