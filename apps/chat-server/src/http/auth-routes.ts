/**
 * `/api/auth/*` and `/api/admin/*`: register, login, guest, refresh, logout, password change, the
 * current user, and role changes by an admin. Login attempts and guest creations are rate limited
 * per client IP.
 * @module
 */
import type { AccountService } from '../domain/accounts.js';
import { RateLimiter } from '../domain/rate-limit.js';
import { ChatError, forbidden } from '../errors.js';
import { bearer, clientIp, readJson, sendJson } from './json.js';
import type { Router } from './router.js';

/** Options of {@link addAuthRoutes}. */
export interface AuthRouteOptions {
  readonly accounts: AccountService;
  readonly trustProxy: boolean;
  /** Login attempts per minute per IP. */
  readonly loginRateLimit: number;
  /** Guest creations per minute per IP. */
  readonly guestRateLimit: number;
}

/** Adds the account routes to `router`. */
export function addAuthRoutes(router: Router, options: AuthRouteOptions): void {
  const { accounts, trustProxy } = options;
  const logins = new RateLimiter(options.loginRateLimit / 60, options.loginRateLimit);
  const guests = new RateLimiter(options.guestRateLimit / 60, options.guestRateLimit);
  const limit = (limiter: RateLimiter, ip: string, what: string) => {
    const wait = limiter.take(ip);
    if (wait > 0) {
      throw new ChatError('SB_CHAT_RATE_LIMITED', `Too many ${what} from this address; try again later.`, {
        retryAfterSeconds: wait,
      });
    }
  };

  router
    .on('POST', '/api/auth/register', async ({ req, res }) => {
      sendJson(res, 201, await accounts.register(await readJson(req)));
    })
    .on('POST', '/api/auth/login', async ({ req, res }) => {
      limit(logins, clientIp(req, trustProxy), 'login attempts');
      sendJson(res, 200, await accounts.login(await readJson(req)));
    })
    .on('POST', '/api/auth/guest', async ({ req, res }) => {
      limit(guests, clientIp(req, trustProxy), 'guest sessions');
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
    .on('GET', '/api/me', async ({ req, res }) => {
      const { user } = await accounts.authenticate(bearer(req));
      const { id, username, displayName, role, isGuest } = user;
      sendJson(res, 200, { user: { id, username, displayName, role, isGuest } });
    })
    .on('POST', '/api/admin/users/:username/role', async ({ req, res, params }) => {
      const { user } = await accounts.authenticate(bearer(req));
      if (user.role !== 'admin') throw forbidden('Only admins change roles.');
      const body = (await readJson(req)) as { role?: unknown };
      sendJson(res, 200, { user: await accounts.setRole(params.username ?? '', body?.role) });
    });
}
