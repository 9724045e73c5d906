/**
 * Picks the storage a configuration asks for: PostgreSQL with `DATABASE_URL`, else SQLite under
 * `DATA_DIR`.
 * @module
 */
import { dirname, join } from 'node:path';
import type { ChatConfig } from '../config.js';
import { type BlobStore, DiskBlobStore } from './attachments.js';
import { PostgresStorage } from './postgres-storage.js';
import { SqliteStorage } from './sqlite-storage.js';
import type { ChatStorage } from './storage.js';

/** Opens (does not migrate) the storage of `config`. */
export function createStorage(
  config: Pick<ChatConfig, 'databaseUrl' | 'databaseSchema' | 'dataDir'>,
): ChatStorage {
  if (config.databaseUrl) {
    return new PostgresStorage({ connectionString: config.databaseUrl, schema: config.databaseSchema });
  }
  return SqliteStorage.inDirectory(config.dataDir);
}

/**
 * Where attachments' bytes go: `ATTACHMENTS_DIR` when set; else the PostgreSQL database of a
 * PostgreSQL storage (every node sharing it serves every file); else `attachments` beside the
 * SQLite file (`DATA_DIR/attachments`).
 */
export function createBlobStore(
  config: Pick<ChatConfig, 'attachmentsDir' | 'dataDir'>,
  storage: ChatStorage,
): BlobStore {
  if (config.attachmentsDir) return new DiskBlobStore(config.attachmentsDir);
  if (storage instanceof PostgresStorage) return storage.blobStore();
  const dir =
    storage instanceof SqliteStorage && storage.path !== ':memory:' ? dirname(storage.path) : config.dataDir;
  return new DiskBlobStore(join(dir, 'attachments'));
}
