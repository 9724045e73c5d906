import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Ends `res` with a plain-text body, as the reference's transport errors are (text/plain). */
export function sendText(res: ServerResponse, status: number, body: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': bytes.length });
  res.end(bytes);
}

/** Ends `res` with a JSON body and its exact length. */
export function sendJson(res: ServerResponse, status: number, json: string): void {
  const bytes = Buffer.from(json, 'utf8');
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': bytes.length });
  res.end(bytes);
}

/** The body of a 503 when the authenticator cannot judge the credentials (`SB_ERR_AUTH_UNAVAILABLE`). */
export const AUTH_UNAVAILABLE = 'Authentication is unavailable.';

/** Seconds a client is asked to wait after a 503. */
export const RETRY_AFTER_SECONDS = 5;

/** Ends `res` with a 503, `Retry-After` and a plain-text body. */
export function sendUnavailable(res: ServerResponse, body: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(503, {
    'Content-Type': 'text/plain',
    'Content-Length': bytes.length,
    'Retry-After': String(RETRY_AFTER_SECONDS),
  });
  res.end(bytes);
}

/**
 * The challenge of a 401, as the reference's JWT bearer handler sends it: the client is told to
 * come back with a bearer token.
 */
export const BEARER_CHALLENGE = 'Bearer';

/**
 * Ends `res` with an empty body and the standard reason phrase (401 must be empty: 8.3); a 401
 * carries `WWW-Authenticate: Bearer`.
 */
export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(
    status,
    status === 401 ? { 'Content-Length': 0, 'WWW-Authenticate': BEARER_CHALLENGE } : { 'Content-Length': 0 },
  );
  res.end();
}

/**
 * Refuses a WebSocket upgrade with an HTTP response written straight to the socket (a 401 with
 * `WWW-Authenticate: Bearer`).
 */
export function refuseUpgrade(socket: Duplex, status: number, body = ''): void {
  const bytes = Buffer.from(body, 'utf8');
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    (status === 401 ? `WWW-Authenticate: ${BEARER_CHALLENGE}\r\n` : '') +
    (status === 503 ? `Retry-After: ${RETRY_AFTER_SECONDS}\r\n` : '') +
    (bytes.length > 0 ? 'Content-Type: text/plain\r\n' : '') +
    `Content-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`;
  if (socket.writable) socket.end(Buffer.concat([Buffer.from(head, 'latin1'), bytes]));
  else socket.destroy();
}
