/**
 * The host app's users (issue #15): a user is named by the host's `sub` within its issuer, kept in
 * the chat's users table under an id derived from both (so it never collides with a local account:
 * local ids are UUIDs and local usernames never contain `:`), created on first sight and updated
 * when what the host says of them changes. Names from the host are cleaned, never refused.
 * @module
 */
import { createHash } from 'node:crypto';
import { ChatError } from '../errors.js';
import type { ChatStorage } from '../storage/storage.js';
import { ROLES, type Role, type UserRecord } from '../types.js';
import { systemClock } from './ports.js';

/** The longest display name kept (as for local accounts). */
const MAX_NAME = 64;
/** The longest avatar URL kept. */
const MAX_AVATAR_URL = 2_000;

/** What the host says of a user (from a token's claims or the server API). */
export interface HostClaims {
  /** A display name as given (cleaned here); absent: kept (new users: their subject). */
  readonly name?: unknown;
  /** `user`, `agent` or `admin`; anything else (or absent) keeps the role (new users: `user`). */
  readonly role?: unknown;
  /** An http(s) URL of the avatar; anything else: none. */
  readonly picture?: unknown;
}

/** The chat's user id of the host's `sub` within `issuer`. */
export function hostUserId(issuer: string, subject: string): string {
  return `h_${createHash('sha256').update(`${issuer}\u0000${subject}`).digest('hex').slice(0, 32)}`;
}

/** Control, format (bidi overrides, zero-width), surrogate and line/paragraph separator characters. */
const UNWANTED = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

/**
 * A display name from the host, cleaned: NFC, unwanted characters (control, bidi-override and
 * other invisible formatting) removed, spaces collapsed, at most 64 characters; undefined when
 * nothing visible remains or it is not a string.
 */
export function cleanHostName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const cleaned = value.normalize('NFC').replace(UNWANTED, '').replace(/\s+/g, ' ').trim();
  if (cleaned === '') return undefined;
  return [...cleaned].slice(0, MAX_NAME).join('').trim();
}

/** A role from the host, if it is one of ours. */
export function hostRole(value: unknown): Role | undefined {
  return typeof value === 'string' && ROLES.includes(value as Role) ? (value as Role) : undefined;
}

/** An avatar URL from the host, if it is an http(s) URL of reasonable length. */
export function hostAvatar(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > MAX_AVATAR_URL) return null;
  if (!/^https?:\/\//i.test(value) || !URL.canParse(value)) return null;
  return value;
}

/** A host user as the server API shows it. */
export interface HostUserView {
  /** The host's `sub`. */
  readonly id: string;
  /** The chat's own id of the user (in messages and events). */
  readonly chatUserId: string;
  readonly displayName: string;
  readonly role: Role;
  readonly avatarUrl: string | null;
}

/** Creates and updates host users. */
export class HostUserService {
  constructor(
    private readonly storage: ChatStorage,
    /** The configured `AUTH_ISSUER`: the namespace of the server API's user ids. */
    readonly issuer: string,
  ) {}

  /** The chat id of a `sub` of the configured issuer. */
  idOf(subject: string): string {
    return hostUserId(this.issuer, subject);
  }

  /**
   * The user behind `subject`, created on first sight; claims that differ from the ones applied
   * last time update the name, role and avatar (claims left out keep what is stored).
   */
  async fromClaims(issuer: string, subject: string, claims: HostClaims): Promise<UserRecord> {
    const id = hostUserId(issuer, subject);
    const name = cleanHostName(claims.name);
    const role = hostRole(claims.role);
    const avatarUrl = hostAvatar(claims.picture);
    const claimsHash = createHash('sha256')
      .update(JSON.stringify([name ?? null, role ?? null, avatarUrl]))
      .digest('base64url');
    let user = await this.ensure(id, issuer, subject, name, role, avatarUrl, claimsHash);
    const known = await this.storage.hostUser(id);
    if (known?.claimsHash === claimsHash) return user;
    user = await this.apply(user, name, role);
    await this.storage.upsertHostUser(
      { userId: id, issuer, subject, avatarUrl: avatarUrl ?? known?.avatarUrl ?? null, claimsHash },
      systemClock.now(),
    );
    return user;
  }

  /**
   * `PUT /api/v1/users/{id}`: creates or updates a user of the configured issuer with exactly what
   * is given (absent fields keep what is stored). Answers the user and whether it was new.
   */
  async put(
    subject: string,
    input: { displayName?: string; role?: Role; avatarUrl?: string | null },
  ): Promise<{ user: HostUserView; created: boolean }> {
    const id = this.idOf(subject);
    const before = await this.storage.userById(id);
    const name = input.displayName === undefined ? undefined : cleanHostName(input.displayName);
    let user = await this.ensure(id, this.issuer, subject, name, input.role, null, '');
    user = await this.apply(user, name, input.role);
    const known = await this.storage.hostUser(id);
    const avatarUrl =
      input.avatarUrl === undefined ? (known?.avatarUrl ?? null) : hostAvatar(input.avatarUrl ?? undefined);
    await this.storage.upsertHostUser(
      { userId: id, issuer: this.issuer, subject, avatarUrl, claimsHash: known?.claimsHash ?? '' },
      systemClock.now(),
    );
    return {
      user: { id: subject, chatUserId: id, displayName: user.displayName, role: user.role, avatarUrl },
      created: !before,
    };
  }

  /** A user of the configured issuer as the server API shows it, if known. */
  async view(subject: string): Promise<HostUserView | undefined> {
    const id = this.idOf(subject);
    const user = await this.storage.userById(id);
    if (!user) return undefined;
    const known = await this.storage.hostUser(id);
    return {
      id: subject,
      chatUserId: id,
      displayName: user.displayName,
      role: user.role,
      avatarUrl: known?.avatarUrl ?? null,
    };
  }

  private async ensure(
    id: string,
    issuer: string,
    subject: string,
    name: string | undefined,
    role: Role | undefined,
    avatarUrl: string | null,
    claimsHash: string,
  ): Promise<UserRecord> {
    const existing = await this.storage.userById(id);
    if (existing) return existing;
    try {
      await this.storage.createUser({
        id,
        username: `host:${id.slice(2)}`,
        displayName: name ?? cleanHostName(subject) ?? 'User',
        passwordHash: null,
        role: role ?? 'user',
        isGuest: false,
        createdAt: systemClock.now(),
      });
      await this.storage.upsertHostUser(
        { userId: id, issuer, subject, avatarUrl, claimsHash },
        systemClock.now(),
      );
    } catch (error) {
      // Another node (or request) created the user at the same moment: theirs stands.
      if (!(await this.storage.userById(id))) throw error;
    }
    const created = await this.storage.userById(id);
    if (!created) throw new ChatError('SB_CHAT_INTERNAL', 'The user could not be created.');
    return created;
  }

  private async apply(
    user: UserRecord,
    name: string | undefined,
    role: Role | undefined,
  ): Promise<UserRecord> {
    let next = user;
    if (name !== undefined && name !== user.displayName) {
      await this.storage.setDisplayName(user.id, name);
      next = { ...next, displayName: name };
    }
    if (role !== undefined && role !== user.role) {
      await this.storage.setRole(user.id, role);
      next = { ...next, role };
    }
    return next;
  }
}
