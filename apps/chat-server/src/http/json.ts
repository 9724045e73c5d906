/**
 * JSON in and out of our HTTP APIs: bodies with a size limit, answers, and errors as
 * `{ "error": { "code", "message", "field"? } }` (never a stack trace).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChatError } from '../errors.js';

/** The largest JSON body accepted. */
export const MAX_JSON_BODY = 16 * 1024;

/** Reads a JSON body: 413 past the limit, 400 when it is not JSON. An empty body is `{}`. */
export async function readJson(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  const type = String(req.headers['content-type'] ?? 'application/json');
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new ChatError('SB_CHAT_INVALID_INPUT', 'The body must be JSON (Content-Type: application/json).', {
      field: 'body',
    });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ChatError('SB_CHAT_INVALID_INPUT', 'The body is not valid JSON.', { field: 'body' });
  }
}

function tooLarge(limit: number): ChatError {
  return new ChatError('SB_CHAT_PAYLOAD_TOO_LARGE', `The body is larger than ${limit} bytes.`);
}

/** Writes a JSON answer. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Writes an error answer: a {@link ChatError}'s status and code, or a bare 500 for anything else. */
export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof ChatError) {
    const headers: Record<string, string> = {};
    if (error.retryAfterSeconds !== undefined) headers['Retry-After'] = String(error.retryAfterSeconds);
    if (error.status === 401) headers['WWW-Authenticate'] = 'Bearer';
    sendJson(
      res,
      error.status,
      { error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } },
      headers,
    );
    return;
  }
  sendJson(res, 500, { error: { code: 'SB_CHAT_INTERNAL', message: 'Internal error.' } });
}

/**
 * The client's IP: the socket's, or with `trustProxy` the last `X-Forwarded-For` address (the one
 * the trusted proxy in front appended; addresses before it are the client's own word, which a
 * client could vary to escape the per-IP limits).
 */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',');
    const last = forwarded[forwarded.length - 1]?.trim();
    if (last) return last;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/** The bearer token of a request's Authorization header. */
export function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string' && /^bearer /i.test(header)) return header.slice(7).trim() || undefined;
  return undefined;
}
