// Types of negotiate.mjs (the example stays plain JavaScript, runnable without a build).
import type { Server } from 'node:http';

/** An HS256 JWT signed with the access key's UTF-8 bytes. */
export function signToken(claims: Record<string, unknown>, accessKey: string): string;
/** The negotiate answer for `userId` on `hub`. */
export function negotiate(options: {
  endpoint: string;
  accessKey: string;
  hub: string;
  userId: string;
  lifetimeSeconds?: number;
}): { url: string; accessToken: string };
/** A REST call to the service. */
export function callService(options: {
  endpoint: string;
  accessKey: string;
  method: string;
  path: string;
  body?: unknown;
}): Promise<Response>;
/** An app server whose POST /api/negotiate answers with the service's URL and a token. */
export function createNegotiateServer(options: { endpoint: string; accessKey: string; hub: string }): Server;
