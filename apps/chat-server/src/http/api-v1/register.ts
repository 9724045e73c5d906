/**
 * Puts the server API (`/api/v1`) on the chat's router: each route of {@link apiV1Routes} checks
 * the API key, validates its path, query and body with its zod schemas (a refusal names the field)
 * and answers JSON; `GET /api/v1/openapi.json` (no key needed) serves the generated document.
 * @module
 */
import type { z } from 'zod';
import { authenticateApiKey } from '../../auth/api-keys.js';
import { ChatError } from '../../errors.js';
import { readJson, sendJson } from '../json.js';
import type { Router } from '../router.js';
import { openApiDocument } from './openapi.js';
import { type ApiV1Deps, apiV1Routes } from './routes.js';

/** The prefix of the server API. */
export const API_V1 = '/api/v1';

/** Adds the server API's routes. */
export function addApiV1Routes(router: Router, deps: ApiV1Deps): void {
  const doc = JSON.stringify(openApiDocument());
  router.on('GET', `${API_V1}/openapi.json`, ({ res }) => {
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache' });
    res.end(doc);
  });
  for (const route of apiV1Routes) {
    const path = API_V1 + route.path.replace(/\{(\w+)\}/g, ':$1');
    router.on(route.method, path, async ({ req, res, params }) => {
      const key = await authenticateApiKey(deps.services.storage, req);
      const parsedParams = route.params ? parse(route.params, params, '') : params;
      const search = new URL(req.url ?? '/', 'http://localhost').searchParams;
      const query = route.query ? parse(route.query, Object.fromEntries(search), '') : {};
      const body = route.body ? parse(route.body, await readJson(req), '') : undefined;
      const answer = await route.handle(deps, {
        params: parsedParams as Record<string, string>,
        query,
        body,
        key,
      });
      if (answer.body === undefined) res.writeHead(answer.status, { 'Cache-Control': 'no-store' }).end();
      else sendJson(res, answer.status, answer.body);
    });
  }
}

/** Validates with a schema, or a 400 naming the first field at fault. */
function parse<T>(schema: z.ZodType<T>, value: unknown, prefix: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const path = [...issue.path, ...keys.slice(0, 1)].map(String).join('.');
  const field = prefix + (path || 'body');
  throw new ChatError('SB_CHAT_INVALID_INPUT', `${field}: ${issue.message}`, { field });
}
