/**
 * Profiles over HTTP: `PATCH /api/users/{userId}` {displayName}, `PUT /api/users/{userId}/avatar`
 * (multipart/form-data, one part `file`), `DELETE /api/users/{userId}/avatar` (each the user's
 * own bearer token; each answers `{user}`), and `GET /api/avatars/{avatarId}` (any signed-in
 * user's token) serving a current avatar as its checked image type, inline, with
 * `X-Content-Type-Options: nosniff` and a sandboxing CSP. The upload is read whole (busboy, as for
 * attachments) before anything is stored.
 * @module
 */
import type { AccountService } from '../domain/accounts.js';
import type { ProfileService } from '../domain/profiles.js';
import { readUpload } from './attachment-routes.js';
import { bearer, readJson, sendJson } from './json.js';
import type { Router } from './router.js';

/** Room for the multipart framing around the file. */
const MULTIPART_OVERHEAD = 64 * 1024;

/** Adds the profile routes to `router`. */
export function addProfileRoutes(
  router: Router,
  options: { accounts: AccountService; profiles: ProfileService },
): void {
  const { accounts, profiles } = options;
  router
    .on('PATCH', '/api/users/:userId', async ({ req, res, params }) => {
      const { user } = await accounts.authenticate(bearer(req));
      await profiles.requireSelf(user, params.userId);
      sendJson(res, 200, { user: await profiles.updateProfile(user, params.userId, await readJson(req)) });
    })
    .on('PUT', '/api/users/:userId/avatar', async ({ req, res, params }) => {
      const { user } = await accounts.authenticate(bearer(req));
      // Refused before the body is read: someone else's profile, a guest, a body past the limit.
      await profiles.requireSelf(user, params.userId);
      const max = profiles.maxAvatarBytes;
      if (Number(req.headers['content-length'] ?? 0) > max + MULTIPART_OVERHEAD) {
        res.setHeader('Connection', 'close');
        throw profiles.tooLarge();
      }
      const file = await readUpload(req, max, () => profiles.tooLarge());
      sendJson(res, 200, { user: await profiles.setAvatar(user, params.userId, file) });
    })
    .on('DELETE', '/api/users/:userId/avatar', async ({ req, res, params }) => {
      const { user } = await accounts.authenticate(bearer(req));
      sendJson(res, 200, { user: await profiles.removeAvatar(user, params.userId) });
    })
    .on('GET', '/api/avatars/:avatarId', async ({ req, res, params }) => {
      await accounts.authenticate(bearer(req));
      const { contentType, data } = await profiles.openAvatar(params.avatarId ?? '');
      res.writeHead(200, {
        'Content-Type': contentType,
        'Content-Length': data.length,
        'Content-Disposition': 'inline',
        'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': "default-src 'none'; sandbox",
        // An avatar's id changes with every new image: a copy never goes stale.
        'Cache-Control': 'private, max-age=31536000, immutable',
      });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
}
