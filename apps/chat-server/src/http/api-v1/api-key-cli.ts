/**
 * The API key commands of the chat's command line: `create-api-key NAME` (the key is the last line
 * of the output, shown once), `list-api-keys` and `revoke-api-key NAME`.
 * @module
 */
import { ApiKeyService } from '../../auth/api-keys.js';
import type { ChatConfig } from '../../config.js';
import { createStorage } from '../../storage/create-storage.js';

/** Runs an API key command; undefined when `command` is not one (exit code otherwise). */
export async function apiKeyCommand(
  command: string,
  args: readonly string[],
  config: ChatConfig,
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number | undefined> {
  if (!['create-api-key', 'list-api-keys', 'revoke-api-key'].includes(command)) return undefined;
  const name = args[0];
  if (command !== 'list-api-keys' && !name) {
    err(`usage: ${command} NAME`);
    return 2;
  }
  const storage = createStorage(config);
  try {
    await storage.migrate();
    const keys = new ApiKeyService(storage);
    if (command === 'create-api-key') {
      const { key } = await keys.create(name!);
      out(`API key '${name}' created. Keep it secret: it is shown this once and stored hashed.`);
      out('Send it as Authorization: Bearer <key> to /api/v1.');
      out(key);
      return 0;
    }
    if (command === 'revoke-api-key') {
      if (!(await keys.revoke(name!))) {
        err(`no API key named '${name}'`);
        return 1;
      }
      out(`API key '${name}' revoked.`);
      return 0;
    }
    const list = await keys.list();
    if (list.length === 0) out('no API keys');
    for (const k of list)
      out(`${k.name}\t${k.prefix}…\tcreated ${k.createdAt}\tlast used ${k.lastUsedAt ?? 'never'}`);
    return 0;
  } finally {
    await storage.close();
  }
}
