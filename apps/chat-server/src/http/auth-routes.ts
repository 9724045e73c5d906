/**
 * `/api/auth/*` and `/api/admin/*`: register, login, guest, refresh, logout, password change, the
 * current user, and role changes by an admin. Login attempts, registrations and guest creations are
 * rate limited per client IP with token buckets in the storage, so every node shares them; logins
 * per IP and per account by the account service's login throttle (`domain/login-throttle.ts`).
 * @module
 */
import type { AccountService } from '../domain/accounts.js';
import { profileOf } from '../domain/profiles.js';
import { ChatError, forbidden } from '../errors.js';
import type { ChatStorage } from '../storage/storage.js';
import { bearer, clientIp, readJson, sendJson } from './json.js';
import type { Router } from './router.js';

/** Options of {@link addAuthRoutes}. */
export interface AuthRouteOptions {
  readonly accounts: AccountService;
  /** Where the per-IP token buckets live (shared by every node on the same storage). */
  readonly storage: ChatStorage;
  readonly trustProxy: boolean;
  /** Guest creations per minute per IP. */
  readonly guestRateLimit: number;
  /** Registrations per hour per IP; 0: no limit. */
  readonly registerRateLimit: number;
}

/** Adds the account routes to `router`. */
export function addAuthRoutes(router: Router, options: AuthRouteOptions): void {
  const { accounts, trustProxy, storage } = options;
  /** Takes a token of `perPeriod` per `periodSeconds` (burst `perPeriod`) for the IP, or a 429. */
  const limit = async (kind: string, ip: string, perPeriod: number, periodSeconds: number, what: string) => {
    if (perPeriod === 0) return;
    const rate = perPeriod / periodSeconds;
    if (!(await storage.takeRateToken(`${kind}:${ip}`, rate, perPeriod))) {
      throw new ChatError('SB_CHAT_RATE_LIMITED', `Too many ${what} from this address; try again later.`, {
        retryAfterSeconds: Math.max(1, Math.ceil(1 / rate)),
      });
    }
  };

  router
    .on('POST', '/api/auth/register', async ({ req, res }) => {
      const ip = clientIp(req, trustProxy);
      await limit('register-ip', ip, options.registerRateLimit, 3_600, 'registrations');
      sendJson(res, 201, await accounts.register(await readJson(req), ip));
    })
    .on('POST', '/api/auth/login', async ({ req, res }) => {
      // LOGIN_RATE_LIMIT per IP is the login throttle's (it knows the account's known addresses).
      sendJson(res, 200, await accounts.login(await readJson(req), clientIp(req, trustProxy)));
    })
    .on('POST', '/api/auth/guest', async ({ req, res }) => {
      await limit('guest-ip', clientIp(req, trustProxy), options.guestRateLimit, 60, 'guest sessions');
      sendJson(res, 201, await accounts.guest(await readJson(req)));
    })
    .on('POST', '/api/auth/refresh', async ({ req, res }) => {
      sendJson(res, 200, await accounts.refresh(bearer(req)));
    })
    .on('POST', '/api/auth/logout', async ({ req, res }) => {
      await accounts.logout(bearer(req));
      res.writeHead(204).end();
    })
    .on('POST', '/api/auth/password', async ({ req, res }) => {
      const token = bearer(req);
      sendJson(res, 200, await accounts.changePassword(token, await readJson(req)));
    })
    .on('POST', '/api/auth/logout-everywhere', async ({ req, res }) => {
      await accounts.signOutEverywhere(bearer(req));
      res.writeHead(204).end();
    })
    .on('GET', '/api/me', async ({ req, res }) => {
      const { user } = await accounts.authenticate(bearer(req));
      sendJson(res, 200, { user: profileOf(user) });
    })
    .on('POST', '/api/admin/users/:username/role', async ({ req, res, params }) => {
      const { user } = await accounts.authenticate(bearer(req));
      if (user.role !== 'admin') throw forbidden('Only admins change roles.');
      const body = (await readJson(req)) as { role?: unknown };
      sendJson(res, 200, { user: await accounts.setRole(params.username ?? '', body?.role) });
    });
}
