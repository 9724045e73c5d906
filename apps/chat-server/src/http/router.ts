/**
 * A small router on node:http: exact paths with `:param` segments, one handler per method, JSON
 * errors for unknown routes (404) and wrong methods (405).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChatError } from '../errors.js';
import { sendError } from './json.js';

/** What a handler gets. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: Record<string, string>;
}

/** A route handler: it writes the answer itself, or throws (a ChatError becomes its JSON error). */
export type RouteHandler = (ctx: RouteContext) => Promise<void> | void;

interface Route {
  readonly segments: string[];
  readonly handlers: Map<string, RouteHandler>;
}

/** Routes requests by method and path. */
export class Router {
  private readonly routes: Route[] = [];

  /** Adds a handler for `method` at `path` (`/api/admin/users/:username/role`). */
  on(method: string, path: string, handler: RouteHandler): this {
    const segments = path.split('/').filter(Boolean);
    let route = this.routes.find((r) => r.segments.join('/') === segments.join('/'));
    if (!route) {
      route = { segments, handlers: new Map() };
      this.routes.push(route);
    }
    route.handlers.set(method.toUpperCase(), handler);
    return this;
  }

  /** Serves a request; errors from handlers become JSON errors. */
  async handle(req: IncomingMessage, res: ServerResponse, onError: (error: unknown) => void): Promise<void> {
    try {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const parts = path.split('/').filter(Boolean).map(safeDecode);
      for (const route of this.routes) {
        const params = match(route.segments, parts);
        if (!params) continue;
        const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
        const handler = route.handlers.get(method);
        if (!handler) {
          res.setHeader('Allow', [...route.handlers.keys()].join(', '));
          throw new ChatError('SB_CHAT_METHOD_NOT_ALLOWED', `${req.method} is not allowed here.`);
        }
        await handler({ req, res, params });
        return;
      }
      throw new ChatError('SB_CHAT_NOT_FOUND', 'No such route.');
    } catch (error) {
      if (!(error instanceof ChatError)) onError(error);
      sendError(res, error);
    }
  }
}

function match(segments: string[], parts: string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s.startsWith(':')) params[s.slice(1)] = parts[i]!;
    else if (s !== parts[i]) return undefined;
  }
  return params;
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
