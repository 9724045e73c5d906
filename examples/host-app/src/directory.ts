/**
 * The host app's own people and projects: a small fixed list, as a real app would keep in its
 * database. Passwords are kept as scrypt hashes and compared in constant time.
 * @module
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

/** The roles the chat knows (`role` claim of the chat token). */
export type ChatRole = 'user' | 'agent' | 'admin';

/** A person signed in to the host app. Their `id` is the `sub` of their chat token. */
export interface HostUser {
  readonly id: string;
  readonly username: string;
  readonly name: string;
  readonly role: ChatRole;
}

/** A project of the host app; its chat room is created through the chat's server API on demand. */
export interface Project {
  readonly id: string;
  readonly name: string;
  /** The ids of the users who work on it (they become the room's members). */
  readonly members: readonly string[];
}

/** The demo users. */
export const DEMO_USERS: readonly HostUser[] = [
  { id: 'u-alice', username: 'alice', name: 'Alice Moreau', role: 'user' },
  { id: 'u-bob', username: 'bob', name: 'Bob Okafor', role: 'user' },
  { id: 'u-sam', username: 'sam', name: 'Sam from Support', role: 'agent' },
  { id: 'u-ada', username: 'ada', name: 'Ada the Admin', role: 'admin' },
];

/** The demo projects. */
export const DEMO_PROJECTS: readonly Project[] = [
  { id: 'apollo', name: 'Apollo launch', members: ['u-alice', 'u-bob', 'u-sam'] },
  { id: 'gemini', name: 'Gemini redesign', members: ['u-alice', 'u-ada'] },
];

interface StoredUser {
  readonly user: HostUser;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

const KEY_LENGTH = 32;

/** The users with their password hashes, and the projects. */
export class Directory {
  private readonly byUsername = new Map<string, StoredUser>();
  private readonly byId = new Map<string, HostUser>();
  /** A hash to compare against for unknown usernames, so both answers take as long. */
  private readonly decoy: StoredUser;

  constructor(
    users: readonly HostUser[],
    password: string,
    readonly projects: readonly Project[] = DEMO_PROJECTS,
  ) {
    for (const user of users) {
      const salt = randomBytes(16);
      this.byUsername.set(user.username, { user, salt, hash: scryptSync(password, salt, KEY_LENGTH) });
      this.byId.set(user.id, user);
    }
    const salt = randomBytes(16);
    this.decoy = { user: users[0]!, salt, hash: scryptSync(randomBytes(16), salt, KEY_LENGTH) };
  }

  /** The user whose username and password these are, or undefined. */
  authenticate(username: string, password: string): HostUser | undefined {
    const stored = this.byUsername.get(username);
    const candidate = stored ?? this.decoy;
    const hash = scryptSync(password, candidate.salt, KEY_LENGTH);
    return timingSafeEqual(hash, candidate.hash) && stored ? stored.user : undefined;
  }

  /** A user by id. */
  user(id: string): HostUser | undefined {
    return this.byId.get(id);
  }

  /** Every user. */
  users(): HostUser[] {
    return [...this.byId.values()];
  }

  /** A project by id. */
  project(id: string): Project | undefined {
    return this.projects.find((p) => p.id === id);
  }
}
