/**
 * The data-plane REST API of the reference (api-version 2022-06-01): health, sends, group and
 * user-group membership, existence checks and closes, each authenticated by a bearer HS256 JWT
 * signed with an access key whose audience is the request URL without its query.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HubContext, Logger } from '@switchboard/server';
import type { UserGroupStore } from '@switchboard/server/scaleout';
import { z } from 'zod';
import type { Cluster } from './cluster.js';
import type { ServiceConfig } from './config.js';
import { ServiceError } from './errors.js';
import type { ClusterCommand } from './registry.js';
import { type AccessKeys, bearerOf } from './tokens.js';

/** The api-version values the API serves. */
export const API_VERSIONS: readonly string[] = ['2022-06-01'];

/** A user-group membership without `ttl` lasts this long, as the reference's "1 year at most". */
const DEFAULT_USER_GROUP_TTL_S = 365 * 24 * 3600;

const payloadSchema = z.object({
  target: z.string().min(1, 'must be a non-empty string'),
  arguments: z.array(z.unknown()).optional(),
});

/** What the REST API needs from the service. */
export interface RestApiOptions {
  readonly config: ServiceConfig;
  readonly keys: AccessKeys;
  readonly cluster: Cluster;
  /** The cluster's user-group memberships (written here, then the nodes are told). */
  readonly userGroups: UserGroupStore;
  /** The hub's context by its key (lower-case name), or undefined for a hub not configured. */
  readonly hub: (key: string) => HubContext | undefined;
  /** The origins a token audience may name for this request (the public URL, the Host header's). */
  readonly origins: (req: IncomingMessage) => readonly string[];
  readonly logger: Logger;
  /** Whether the node is ready (for the health check). */
  readonly healthy: () => boolean;
}

/** One parsed request. */
interface Call {
  readonly method: string;
  readonly segments: readonly string[];
  readonly query: URLSearchParams;
  readonly req: IncomingMessage;
}

/** Serves a request under `/api/`. Never throws: every failure is an answer. */
export async function handleRestRequest(
  options: RestApiOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    // The node (with workers: the worker) that served the call, for operators and tests.
    const node = (options.cluster as Cluster | undefined)?.nodeId;
    if (node !== undefined) res.setHeader('X-Switchboard-Node', node);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const segments = url.pathname
      .replace(/\/+$/, '')
      .split('/')
      .slice(2)
      .map((s) => decodeURIComponent(s));
    const call: Call = { method: req.method ?? 'GET', segments, query: url.searchParams, req };
    if (
      segments.length === 1 &&
      segments[0] === 'health' &&
      (call.method === 'HEAD' || call.method === 'GET')
    ) {
      return answer(res, options.healthy() ? 200 : 503);
    }
    if (segments[0] !== 'hubs' || segments.length < 3) throw notFound('No such route.');
    await authenticate(options, req, url.pathname);
    const version = url.searchParams.get('api-version');
    if (version === null || !API_VERSIONS.includes(version)) {
      throw new ServiceError(
        'SB_ERR_SVC_API_VERSION',
        `The api-version query parameter must be one of: ${API_VERSIONS.join(', ')}.`,
        400,
        'api-version',
      );
    }
    await route(options, call, res);
  } catch (error) {
    if (error instanceof ServiceError) {
      if (req.method === 'HEAD') return answer(res, error.status);
      return answer(res, error.status, {
        error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) },
      });
    }
    if (error instanceof URIError) {
      return answer(res, 400, { error: { code: 'SB_ERR_SVC_INVALID_REQUEST', message: 'Malformed path.' } });
    }
    options.logger.error('service.rest_failed', {
      code: 'SB_ERR_SVC_INTERNAL',
      error: (error as Error).message,
    });
    answer(res, 500, { error: { code: 'SB_ERR_SVC_INTERNAL', message: 'Internal error.' } });
  }
}

async function route(options: RestApiOptions, call: Call, res: ServerResponse): Promise<void> {
  const { method, segments, query } = call;
  const { config, cluster, userGroups } = options;
  const application = query.get('application');
  const hubName = application ? `${application}_${segments[1]}` : segments[1]!;
  const hubKey = hubName.toLowerCase();
  const hub = options.hub(hubKey);
  if (!hub) throw notFound(`The hub '${hubName}' is not configured.`);
  const rest = segments.slice(2);
  const excluded = query.getAll('excluded');
  const reason = query.get('reason') ?? undefined;
  const [kind, name, tail, sub] = rest as [
    string,
    string | undefined,
    string | undefined,
    string | undefined,
  ];
  const limits = config.limits;
  const send = async (deliver: (target: string, args: unknown[]) => Promise<void>) => {
    const payload = await readPayload(call.req, limits.maxBodyBytes);
    await deliver(payload.target, payload.arguments ?? []);
    answer(res, 202);
  };
  const run = (command: ClusterCommand) => cluster.request(command);

  // /api/hubs/{hub}/:send, /:closeConnections
  if (rest.length === 1 && method === 'POST') {
    if (kind === ':send') return send((t, a) => hub.clients.allExcept(excluded).send(t, ...a));
    if (kind === ':closeConnections') {
      await run({ op: 'close-connections', hub: hubKey, excluded, ...(reason ? { reason } : {}) });
      return answer(res, 204);
    }
  }
  if (kind === 'connections' && name !== undefined) {
    const id = checkName(name, 'connectionId', limits.maxUserIdLength);
    if (rest.length === 2 && method === 'HEAD') {
      const nodes = await cluster.locate({ op: 'has-connection', hub: hubKey, id });
      // Which node (with workers: which worker) holds the connection, for operators and tests.
      if (nodes.length > 0) res.setHeader('X-Switchboard-Connection-Node', nodes.join(','));
      return answer(res, nodes.length > 0 ? 200 : 404);
    }
    if (rest.length === 2 && method === 'DELETE') {
      await hub.connections.close(id, reason ? { reason } : {});
      return answer(res, 200);
    }
    if (rest.length === 3 && tail === ':send' && method === 'POST')
      return send((t, a) => hub.clients.client(id).send(t, ...a));
    if (rest.length === 3 && tail === 'groups' && method === 'DELETE') {
      await run({ op: 'remove-connection-from-all-groups', hub: hubKey, id });
      return answer(res, 200);
    }
  }
  if (kind === 'groups' && name !== undefined) {
    const group = checkName(name, 'group', limits.maxGroupNameLength);
    if (rest.length === 2 && method === 'HEAD')
      return answer(res, (await run({ op: 'has-group', hub: hubKey, group })) ? 200 : 404);
    if (rest.length === 3 && tail === ':send' && method === 'POST')
      return send((t, a) => hub.clients.groupExcept(group, excluded).send(t, ...a));
    if (rest.length === 3 && tail === ':closeConnections' && method === 'POST') {
      await run({ op: 'close-connections', hub: hubKey, group, excluded, ...(reason ? { reason } : {}) });
      return answer(res, 204);
    }
    if (rest.length === 4 && tail === 'connections' && sub !== undefined) {
      const id = checkName(sub, 'connectionId', limits.maxUserIdLength);
      if (method === 'PUT' || method === 'DELETE') {
        const op = method === 'PUT' ? 'add-connection-to-group' : 'remove-connection-from-group';
        const found = await run({ op, hub: hubKey, id, group });
        if (!found) throw notFound(`The connection '${id}' does not exist.`);
        return answer(res, 200);
      }
    }
  }
  if (kind === 'users' && name !== undefined) {
    const user = checkName(name, 'user', limits.maxUserIdLength);
    if (rest.length === 2 && method === 'HEAD')
      return answer(res, (await run({ op: 'has-user', hub: hubKey, user })) ? 200 : 404);
    if (rest.length === 3 && tail === ':send' && method === 'POST')
      return send((t, a) => hub.clients.user(user).send(t, ...a));
    if (rest.length === 3 && tail === ':closeConnections' && method === 'POST') {
      await run({ op: 'close-connections', hub: hubKey, user, excluded, ...(reason ? { reason } : {}) });
      return answer(res, 204);
    }
    if (rest.length === 3 && tail === 'groups' && method === 'DELETE') {
      await userGroups.removeAll(hubKey, user);
      await run({ op: 'remove-user-from-all-groups', hub: hubKey, user });
      return answer(res, 204);
    }
    if (rest.length === 4 && tail === 'groups' && sub !== undefined) {
      const group = checkName(sub, 'group', limits.maxGroupNameLength);
      if (method === 'HEAD') {
        const found =
          (await userGroups.has(hubKey, user, group)) ||
          (await run({ op: 'user-in-group', hub: hubKey, user, group }));
        return answer(res, found ? 200 : 404);
      }
      if (method === 'PUT') {
        const ttl = ttlOf(query.get('ttl'));
        const expiresAt = ttl === 0 ? null : Date.now() + (ttl ?? DEFAULT_USER_GROUP_TTL_S) * 1000;
        if (expiresAt !== null) await userGroups.add(hubKey, user, group, expiresAt);
        await run({ op: 'add-user-to-group', hub: hubKey, user, group, expiresAt });
        return answer(res, 200);
      }
      if (method === 'DELETE') {
        await userGroups.remove(hubKey, user, group);
        await run({ op: 'remove-user-from-group', hub: hubKey, user, group });
        return answer(res, 204);
      }
    }
  }
  throw notFound(`No route for ${method} ${call.segments.join('/')}.`);
}

/** Checks the bearer token: HS256 with an access key, `exp`, audience the URL without its query. */
async function authenticate(options: RestApiOptions, req: IncomingMessage, path: string): Promise<void> {
  const token = bearerOf(req.headers.authorization);
  if (!token) throw unauthorized('A bearer token is required (Authorization: Bearer <JWT>).');
  const origins = options.origins(req).map((o) => o.toLowerCase());
  const want = path.replace(/\/+$/, '');
  const result = await options.keys.verify(token, (audience) => {
    if (!URL.canParse(audience)) return false;
    const url = new URL(audience);
    const audiencePath = audience.slice(url.origin.length).replace(/\/+$/, '');
    return origins.includes(url.origin.toLowerCase()) && url.search === '' && audiencePath === want;
  });
  if (!result.ok) throw unauthorized(`Unauthorized: ${result.reason}.`);
}

async function readPayload(req: IncomingMessage, limit: number): Promise<z.infer<typeof payloadSchema>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw new ServiceError(
        'SB_ERR_SVC_INVALID_REQUEST',
        `The body is larger than ${limit} bytes.`,
        413,
        'body',
      );
    }
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ServiceError('SB_ERR_SVC_INVALID_REQUEST', 'The body is not JSON.', 400, 'body');
  }
  const parsed = payloadSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || 'body';
    throw new ServiceError('SB_ERR_SVC_INVALID_REQUEST', `${field}: ${issue.message}`, 400, field);
  }
  return parsed.data;
}

function ttlOf(value: string | null): number | undefined {
  if (value === null) return undefined;
  const ttl = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(ttl)) {
    throw new ServiceError(
      'SB_ERR_SVC_INVALID_REQUEST',
      'ttl must be a whole number of seconds.',
      400,
      'ttl',
    );
  }
  return ttl;
}

function checkName(value: string, field: string, max: number): string {
  if (value.length === 0 || value.length > max) {
    throw new ServiceError(
      'SB_ERR_SVC_INVALID_REQUEST',
      `${field} must be 1 to ${max} characters long.`,
      400,
      field,
    );
  }
  return value;
}

function notFound(message: string): ServiceError {
  return new ServiceError('SB_ERR_SVC_NOT_FOUND', message, 404);
}

function unauthorized(message: string): ServiceError {
  return new ServiceError('SB_ERR_SVC_UNAUTHORIZED', message, 401);
}

function answer(res: ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status, { 'Content-Length': 0 });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
