/**
 * Accounts: registration, login, guests (support customers), token refresh and logout, password
 * change and roles. Passwords are hashed with scrypt; tokens are JWTs (auth/tokens.ts).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from '../auth/passwords.js';
import type { TokenService, VerifiedToken } from '../auth/tokens.js';
import { ChatError, forbidden, notFound } from '../errors.js';
import { avatarUrl } from '../storage/attachments.js';
import type { ChatStorage } from '../storage/storage.js';
import { ROLES, type Role, type Session, type User, type UserRecord } from '../types.js';

export type { Session } from '../types.js';

import { LoginThrottle } from './login-throttle.js';
import { systemClock } from './ports.js';
import { invalid, object, string, visibleName } from './validate.js';

const USERNAME = {
  max: 32,
  min: 3,
  pattern: /^[a-zA-Z0-9_.-]+$/,
  patternText: 'may use letters, digits, _ . -',
};
const PASSWORD = { min: 8, max: 200 };
/** Display names: 1 to 64 characters after NFC normalisation (see `displayName`). */
const MAX_DISPLAY_NAME = 64;

/** Ends live connections when tokens are revoked; each resolves once the closes are sent. */
export interface RevocationHooks {
  /** Logout: the connections that authenticated with this token (on every node). */
  readonly tokenRevoked?: (jti: string) => Promise<void>;
  /**
   * Password change and "sign out everywhere": every connection of the user (on every node), closed
   * with `reason` (default: the password change's).
   */
  readonly userRevoked?: (userId: string, reason?: string) => Promise<void>;
}

/** Account operations. */
export class AccountService {
  constructor(
    private readonly storage: ChatStorage,
    private readonly tokens: TokenService,
    /** What ends live connections once their tokens stop working. */
    private readonly sessions: RevocationHooks = {},
    /** The per-account login backoff (see `login-throttle.ts`). Default: off. */
    private readonly throttle: LoginThrottle = new LoginThrottle(storage, { limit: 0, maxBackoffSeconds: 1 }),
  ) {}

  /**
   * `POST /api/auth/register` {username, password, displayName}; `address` (the client's) becomes
   * a known address of the account for the login backoff.
   */
  async register(body: unknown, address = 'unknown'): Promise<Session> {
    const input = object(body);
    const username = string(input, 'username', USERNAME).toLowerCase();
    const password = string(input, 'password', PASSWORD);
    const displayName = visibleName(input, 'displayName', MAX_DISPLAY_NAME);
    if (await this.storage.userByUsername(username)) {
      throw new ChatError('SB_CHAT_USERNAME_TAKEN', 'This username is taken.', { field: 'username' });
    }
    const user = await this.storage.createUser({
      id: systemClock.newId(),
      username,
      displayName,
      passwordHash: await hashPassword(password),
      role: 'user',
      isGuest: false,
      createdAt: systemClock.now(),
    });
    await this.throttle.registered(user.id, address);
    return this.session(user);
  }

  /**
   * `POST /api/auth/login` {username, password}: 401 for any mismatch, in the same time; 429 while
   * the account's failures from this kind of address (known or not) make it wait.
   */
  async login(body: unknown, address = 'unknown'): Promise<Session> {
    const input = object(body);
    const username = string(input, 'username', { max: 200 }).toLowerCase();
    const password = string(input, 'password', { max: 200 });
    const user = await this.storage.userByUsername(username);
    const attempt = await this.throttle.begin(username, address, user?.id);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !user.passwordHash || !ok) {
      await this.throttle.failed(attempt);
      throw badCredentials('Wrong username or password.');
    }
    await this.throttle.succeeded(attempt, user.id);
    return this.session(user);
  }

  /** `POST /api/auth/guest` {displayName}: a support customer without a password. */
  async guest(body: unknown): Promise<Session> {
    const input = object(body);
    const displayName = visibleName(input, 'displayName', MAX_DISPLAY_NAME);
    const user = await this.storage.createUser({
      id: systemClock.newId(),
      username: `guest-${randomBytes(6).toString('hex')}`,
      displayName,
      passwordHash: null,
      role: 'user',
      isGuest: true,
      createdAt: systemClock.now(),
    });
    return this.session(user);
  }

  /** The user behind a bearer token, or 401. */
  async authenticate(token: string | undefined): Promise<VerifiedToken> {
    const verified = token ? await this.tokens.verify(token) : undefined;
    if (!verified) throw badCredentials('A valid bearer token is required.');
    return verified;
  }

  /** `POST /api/auth/refresh`: a new token; the old one stops working. */
  async refresh(token: string | undefined): Promise<Session> {
    const verified = await this.authenticate(token);
    await this.tokens.revoke(verified);
    return this.session(verified.user);
  }

  /** `POST /api/auth/logout`: the token stops working on every node. */
  async logout(token: string | undefined): Promise<void> {
    const verified = await this.authenticate(token);
    await this.tokens.revoke(verified);
    await this.sessions.tokenRevoked?.(verified.jti);
  }

  /** `POST /api/auth/password` {currentPassword, newPassword}: every older token stops working. */
  async changePassword(token: string | undefined, body: unknown): Promise<Session> {
    const verified = await this.authenticate(token);
    const input = object(body);
    const current = string(input, 'currentPassword', { max: 200 });
    const next = string(input, 'newPassword', PASSWORD);
    const user = verified.user;
    if (!user.passwordHash) throw forbidden('Guests have no password.');
    if (!(await verifyPassword(current, user.passwordHash))) {
      throw new ChatError('SB_CHAT_BAD_CREDENTIALS', 'The current password is wrong.', {
        field: 'currentPassword',
      });
    }
    const version = await this.storage.setPassword(user.id, await hashPassword(next));
    await this.sessions.userRevoked?.(user.id);
    return this.session({ ...user, tokenVersion: version });
  }

  /**
   * `POST /api/auth/logout-everywhere`: every token of the user stops working (the token version
   * moves on, on every node) and every connection of the user ends, on every node.
   */
  async signOutEverywhere(token: string | undefined): Promise<void> {
    const verified = await this.authenticate(token);
    await this.storage.bumpTokenVersion(verified.user.id);
    await this.tokens.revoke(verified);
    await this.sessions.userRevoked?.(verified.user.id, 'Signed out everywhere.');
  }

  /** Gives a user a role (CLI `add-agent`, admin API). */
  async setRole(username: string, role: unknown): Promise<User> {
    if (typeof role !== 'string' || !ROLES.includes(role as Role))
      throw invalid('role', `must be one of ${ROLES.join(', ')}`);
    const user = await this.storage.userByUsername(username);
    if (!user) throw notFound(`No user named '${username}'.`);
    await this.storage.setRole(user.id, role as Role);
    return publicUser({ ...user, role: role as Role });
  }

  private session(user: UserRecord): Session {
    const issued = this.tokens.issue(user);
    return {
      token: issued.token,
      expiresAt: new Date(issued.expiresAt).toISOString(),
      user: publicUser(user),
    };
  }
}

function publicUser(u: UserRecord): User {
  const { id, username, displayName, role, isGuest } = u;
  return {
    id,
    username,
    displayName,
    role,
    isGuest,
    ...(u.avatarId ? { avatarUrl: avatarUrl(u.avatarId) } : {}),
  };
}

function badCredentials(message: string): ChatError {
  return new ChatError('SB_CHAT_BAD_CREDENTIALS', message);
}
