// A negotiate function for switchboard serve in plain Node (no SDK, no dependency): it hands the
// official SignalR client the service's hub URL and an access token for it, as Azure SignalR
// Service's serverless negotiate does. Serve it at <your app>/negotiate; the client connects with
// `new HubConnectionBuilder().withUrl('https://your.app/api')` and follows the redirect.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';

const b64url = (value) => Buffer.from(value).toString('base64url');

/** An HS256 JWT signed with the access key's UTF-8 bytes. */
export function signToken(claims, accessKey) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const signature = createHmac('sha256', accessKey).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** The negotiate answer for `userId` on `hub`: `{ url, accessToken }`. */
export function negotiate({ endpoint, accessKey, hub, userId, lifetimeSeconds = 3600 }) {
  const url = `${endpoint}/client/?hub=${hub}`;
  const exp = Math.floor(Date.now() / 1000) + lifetimeSeconds;
  return { url, accessToken: signToken({ aud: url, nameid: userId, exp }, accessKey) };
}

/** A REST call to the service: the token's audience is the request URL without its query. */
export async function callService({ endpoint, accessKey, method, path, body }) {
  const exp = Math.floor(Date.now() / 1000) + 60;
  const token = signToken({ aud: `${endpoint}${path}`, exp }, accessKey);
  return fetch(`${endpoint}${path}?api-version=2022-06-01`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** An app server whose POST /api/negotiate answers with the service's URL and a token. */
export function createNegotiateServer({ endpoint, accessKey, hub }) {
  return createServer((req, res) => {
    const url = new URL(req.url, 'http://app');
    if (req.method !== 'POST' || url.pathname !== '/api/negotiate') {
      res.writeHead(404).end();
      return;
    }
    // Your own sign-in decides who the user is; a query parameter stands in for it here.
    const userId = url.searchParams.get('user') ?? 'anonymous';
    const body = JSON.stringify(negotiate({ endpoint, accessKey, hub, userId }));
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
}
