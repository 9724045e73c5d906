/**
 * API keys of the host app's backend (issue #15): created by `npm run chat -- create-api-key NAME`
 * (the key is printed once, stored as its SHA-256 digest), listed and revoked from the command
 * line, sent as `Authorization: Bearer <key>` to the server API (`/api/v1`). Every request looks
 * its key up in the storage, so a revocation holds at once on every node.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ChatError } from '../errors.js';
import { bearer } from '../http/json.js';
import type { ApiKeyInfo, ChatStorage } from '../storage/storage.js';

export type { ApiKeyInfo } from '../storage/storage.js';

/** What every key starts with (tells it from a user's token at a glance). */
export const API_KEY_PREFIX = 'sbk_';
/** Names of keys: 1 to 64 letters, digits, `_`, `.` or `-`. */
export const API_KEY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The stored digest of a key. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Creates, lists and revokes API keys. */
export class ApiKeyService {
  constructor(private readonly storage: ChatStorage) {}

  /** A new key under `name` (refused when the name is taken); the key is returned once, never kept. */
  async create(name: string): Promise<{ key: string; info: ApiKeyInfo }> {
    if (!API_KEY_NAME.test(name)) {
      throw new ChatError('SB_CHAT_INVALID_INPUT', 'A key name has 1 to 64 letters, digits, _ . or -.', {
        field: 'name',
      });
    }
    const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const prefix = key.slice(0, API_KEY_PREFIX.length + 6);
    const createdAt = new Date().toISOString();
    if (!(await this.storage.createApiKey(name, hashApiKey(key), prefix, createdAt))) {
      throw new ChatError('SB_CHAT_INVALID_INPUT', `An API key named '${name}' exists already.`, {
        field: 'name',
      });
    }
    return { key, info: { name, prefix, createdAt, lastUsedAt: null } };
  }

  /** Every key (names, prefixes and dates; never the keys). */
  list(): Promise<ApiKeyInfo[]> {
    return this.storage.apiKeys();
  }

  /** Revokes a key by name; false when there is none. */
  revoke(name: string): Promise<boolean> {
    return this.storage.revokeApiKey(name);
  }

  /** The key a request carries, or `SB_CHAT_API_KEY_INVALID` (401). */
  authenticate(req: IncomingMessage): Promise<ApiKeyInfo> {
    return authenticateApiKey(this.storage, req);
  }
}

/**
 * Checks the API key of a server API request (`Authorization: Bearer <key>`): resolves to the key's
 * listing, or throws `SB_CHAT_API_KEY_INVALID` (401) when it is missing, unknown or revoked.
 *
 * @example
 * ```ts
 * router.on('GET', '/api/v1/admin/stats', async ({ req, res }) => {
 *   await authenticateApiKey(storage, req);
 *   sendJson(res, 200, await stats());
 * });
 * ```
 */
export async function authenticateApiKey(storage: ChatStorage, req: IncomingMessage): Promise<ApiKeyInfo> {
  const key = bearer(req);
  const info =
    key?.startsWith(API_KEY_PREFIX) && key.length < 200
      ? await storage.useApiKey(hashApiKey(key), new Date().toISOString())
      : undefined;
  if (!info) {
    throw new ChatError(
      'SB_CHAT_API_KEY_INVALID',
      'The server API needs a valid API key: Authorization: Bearer <key> (npm run chat -- create-api-key NAME).',
    );
  }
  return info;
}
