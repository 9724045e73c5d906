import type { Principal } from '../auth/authentication.js';

/**
 * Who may connect to a hub or call a method:
 * - `true`: any authenticated user;
 * - `{ roles }`: an authenticated user with at least one of the roles;
 * - `{ claims }`: an authenticated user whose claims have these values;
 * - `{ policy }`: an authenticated user for whom the function returns true.
 * Fields combine with AND.
 */
export type AuthorizationRequirement =
  | true
  | {
      roles?: readonly string[];
      claims?: Readonly<Record<string, string>>;
      policy?: (user: Principal) => boolean | Promise<boolean>;
    };

/**
 * Whether `user` meets `requirement`: `'unauthenticated'` when there is no user but one is
 * required, `'forbidden'` when the user does not qualify, `'ok'` otherwise.
 */
export async function authorize(
  requirement: AuthorizationRequirement | undefined,
  user: Principal | undefined,
): Promise<'ok' | 'unauthenticated' | 'forbidden'> {
  if (requirement === undefined) return 'ok';
  if (!user) return 'unauthenticated';
  if (requirement === true) return 'ok';
  if (requirement.roles && !requirement.roles.some((r) => user.roles?.includes(r))) return 'forbidden';
  if (requirement.claims) {
    for (const [key, value] of Object.entries(requirement.claims)) {
      if (user.claims[key] !== value) return 'forbidden';
    }
  }
  if (requirement.policy && !(await requirement.policy(user))) return 'forbidden';
  return 'ok';
}
