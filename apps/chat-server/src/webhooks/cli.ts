/**
 * The webhooks' commands of the chat's command line: `add-webhook URL` (prints the new endpoint's
 * secret as the last line), `list-webhooks`, `remove-webhook ID`.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { ChatConfig } from '../config.js';
import { ChatError } from '../errors.js';
import { createStorage } from '../storage/create-storage.js';
import { newWebhookSecret, webhookUrlProblem } from './config.js';
import { WebhookStore } from './store.js';

/** The commands this module answers. */
export const WEBHOOK_COMMANDS = ['add-webhook', 'list-webhooks', 'remove-webhook'] as const;

/** Where the commands write. */
export interface CommandOutput {
  out(line: string): void;
  err(line: string): void;
}

const stdio: CommandOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Runs a webhook command on the configured storage (migrated first); resolves to the exit code,
 * or undefined when `command` is not one of {@link WEBHOOK_COMMANDS}.
 */
export async function runWebhookCommand(
  command: string,
  args: readonly string[],
  config: Pick<ChatConfig, 'databaseUrl' | 'databaseSchema' | 'dataDir'>,
  io: CommandOutput = stdio,
): Promise<number | undefined> {
  if (!(WEBHOOK_COMMANDS as readonly string[]).includes(command)) return undefined;
  if ((command === 'add-webhook' || command === 'remove-webhook') && !args[0]) {
    io.err(`usage: ${command} ${command === 'add-webhook' ? 'URL' : 'ID'}`);
    return 2;
  }
  if (command === 'add-webhook') {
    const problem = webhookUrlProblem(args[0]!);
    if (problem) throw new ChatError('SB_CHAT_INVALID_INPUT', `URL ${problem}.`, { field: 'url' });
  }
  const storage = createStorage(config);
  try {
    await storage.migrate();
    const store = WebhookStore.of(storage);
    if (command === 'add-webhook') {
      const id = `whep_${randomBytes(8).toString('hex')}`;
      const secret = newWebhookSecret();
      await store.upsertEndpoint(id, args[0]!, secret, new Date().toISOString());
      io.out(`Added webhook endpoint ${id} for ${args[0]}. Its signing secret (shown once):`);
      io.out(secret);
      return 0;
    }
    if (command === 'remove-webhook') {
      if (!(await store.removeEndpoint(args[0]!))) {
        io.err(`SB_CHAT_NOT_FOUND: no webhook endpoint '${args[0]}'`);
        return 1;
      }
      io.out(`Removed webhook endpoint ${args[0]}.`);
      return 0;
    }
    const endpoints = await store.endpoints();
    if (endpoints.length === 0) io.out('No webhook endpoints.');
    for (const e of endpoints) {
      const state = e.disabledAt
        ? `disabled since ${e.disabledAt}`
        : e.failingSinceMs
          ? 'failing'
          : 'enabled';
      io.out(`${e.id}\t${e.url}\t${state}\tadded ${e.createdAt}`);
    }
    return 0;
  } finally {
    await storage.close();
  }
}
