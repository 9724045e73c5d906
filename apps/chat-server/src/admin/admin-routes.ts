/**
 * `GET /api/v1/admin/stats`: the admin view's numbers for scripts (the same JSON `watchAdminStats`
 * answers), for an admin's bearer token ({@link authorizeAdmin}) or, in the app, a server API key
 * too ({@link authorizeApiKeyOrAdmin}).
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { API_KEY_PREFIX, authenticateApiKey } from '../auth/api-keys.js';
import type { AccountService } from '../domain/accounts.js';
import { bearer, sendJson } from '../http/json.js';
import type { Router } from '../http/router.js';
import type { ChatStorage } from '../storage/storage.js';
import { type AdminStatsService, requireAdmin } from './admin-stats.js';

/** The path of the cluster's numbers. */
export const ADMIN_STATS_PATH = '/api/v1/admin/stats';

/** Who called: a verified admin, or a server API key (`apikey:<name>`). */
export interface AdminCaller {
  readonly userId: string;
}

/**
 * Checks that a request comes from an admin: a valid bearer token (401 `SB_CHAT_BAD_CREDENTIALS`
 * otherwise) of a user whose role is admin now (403 `SB_CHAT_ADMIN_ONLY` otherwise). Other kinds of
 * credentials (API keys) are accepted by extending this function.
 */
export async function authorizeAdmin(req: IncomingMessage, accounts: AccountService): Promise<AdminCaller> {
  const { user } = await accounts.authenticate(bearer(req));
  requireAdmin(user);
  return { userId: user.id };
}

/**
 * {@link authorizeAdmin}, or a server API key (`Authorization: Bearer sbk_...`, checked in the
 * storage at every request, so a revoked key stops at once): what scripts of the host app's
 * backend use for the admin numbers and the webhook deliveries.
 */
export async function authorizeApiKeyOrAdmin(
  req: IncomingMessage,
  storage: ChatStorage,
  accounts: AccountService,
): Promise<AdminCaller> {
  if (bearer(req)?.startsWith(API_KEY_PREFIX)) {
    const key = await authenticateApiKey(storage, req);
    return { userId: `apikey:${key.name}` };
  }
  return authorizeAdmin(req, accounts);
}

/** Adds the admin routes. */
export function addAdminRoutes(
  router: Router,
  options: {
    readonly accounts: AccountService;
    readonly admin: AdminStatsService;
    /** The credential check (default {@link authorizeAdmin}). */
    readonly authorize?: (req: IncomingMessage) => Promise<AdminCaller>;
  },
): void {
  const authorize = options.authorize ?? ((req: IncomingMessage) => authorizeAdmin(req, options.accounts));
  router.on('GET', ADMIN_STATS_PATH, async ({ req, res }) => {
    await authorize(req);
    sendJson(res, 200, await options.admin.clusterStats());
  });
}
