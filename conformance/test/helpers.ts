/**
 * Shared by the conformance tests: an in-process conformance server per file, official clients on
 * it, and tokens from its `/generateJwtToken`.
 */
import type { HubConnection } from '@microsoft/signalr';
import { type ConformanceServer, startConformanceServer } from '@switchboard/conformance';
import { silentLogger } from '@switchboard/server';
import { type ClientOptions, connectClient } from '@switchboard/testkit';

/** Starts a quiet conformance server on a free loopback port. */
export function startQuietServer(options: Parameters<typeof startConformanceServer>[0] = {}) {
  return startConformanceServer({ port: 0, logger: silentLogger, drainTimeoutMs: 1_000, ...options });
}

/** `GET /generateJwtToken?user=<user>` (the default user when `user` is undefined). */
export async function fetchToken(baseUrl: string, user?: string): Promise<string> {
  const query = user === undefined ? '' : `?user=${encodeURIComponent(user)}`;
  const response = await fetch(`${baseUrl}/generateJwtToken${query}`);
  if (response.status !== 200) throw new Error(`generateJwtToken answered ${response.status}`);
  return response.text();
}

/** Starts an official client on `server` at `path`, with a token factory when `token` is given. */
export function connect(
  server: ConformanceServer | string,
  path: string,
  options: ClientOptions & { token?: string } = {},
): Promise<HubConnection> {
  const { token, ...rest } = options;
  const base = typeof server === 'string' ? server : server.url;
  return connectClient(`${base}${path}`, token ? { ...rest, accessTokenFactory: () => token } : rest);
}

/** Stops every client, ignoring the ones already stopped. */
export async function stopAll(clients: readonly HubConnection[]): Promise<void> {
  await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
}

/** Decodes a JWT's payload without checking it. */
export function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}
