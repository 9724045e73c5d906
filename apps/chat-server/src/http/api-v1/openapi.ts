/**
 * The OpenAPI 3.1 document of the server API, generated from the zod schemas of
 * {@link apiV1Routes} (the ones that validate the requests), served at `/api/v1/openapi.json`.
 * @module
 */
import { z } from 'zod';
import { apiV1Routes } from './routes.js';
import { ApiError } from './schemas.js';

type JsonSchema = Record<string, unknown>;

function schema(type: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(type, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** The OpenAPI 3.1 document (built once; it depends on the schemas only). */
export function openApiDocument(): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of apiV1Routes) {
    const parameters: unknown[] = [];
    for (const [where, obj] of [
      ['path', route.params],
      ['query', route.query],
    ] as const) {
      if (!obj) continue;
      const json = schema(obj, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
      for (const [name, s] of Object.entries(json.properties ?? {})) {
        const { description, ...rest } = s as { description?: string };
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (json.required ?? []).includes(name),
          ...(description ? { description } : {}),
          schema: rest,
        });
      }
    }
    const responses: Record<string, unknown> = {};
    // A body past 16 KiB is refused before validation (SB_CHAT_PAYLOAD_TOO_LARGE).
    const documented = route.body ? { ...route.responses, 413: ApiError } : route.responses;
    for (const [status, answer] of Object.entries(documented)) {
      responses[status] = {
        description: Number(status) < 300 ? 'Success' : 'Error {error: {code, message, field?}}',
        ...(answer ? { content: { 'application/json': { schema: schema(answer, 'output') } } } : {}),
      };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      summary: route.summary,
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_m, c: string) => c.toUpperCase())}`,
      security: [{ apiKey: [] }],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schema(route.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchboard chat server API',
      version: '1',
      description:
        "For the host app's backend: host users, rooms, members, messages, support requests. Authorization: Bearer <API key> (npm run chat -- create-api-key NAME). User ids in paths and bodies are the host app's `sub` of AUTH_ISSUER.",
    },
    servers: [{ url: '/api/v1' }],
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (sbk_...)' } },
    },
    paths,
  };
}
