/**
 * Shared by the host-app tests (issue #15): a key server the tests control (a JWKS and an OpenID
 * configuration, with fetch counts and an off switch), token minting with jose, a chat server on
 * SQLite or on a fresh PostgreSQL schema (prefix `hsth_`) with a logger that keeps its lines, and
 * API keys.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HubConnection } from '@microsoft/signalr';
import { ApiKeyService, type ChatApp, createChatApp, loadConfig } from '@switchboard/chat-server';
import type { Logger } from '@switchboard/server';
import { connectClient } from '@switchboard/testkit';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import pg from 'pg';
import { TEST_ENV } from './helpers.ts';

/** The PostgreSQL of the tests. */
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A signing key with its public JWK. */
export interface TestKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

/** A new key pair. */
export async function newKey(alg: 'RS256' | 'ES256', kid = `hsth-${alg}-${randomUUID()}`): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, jwk };
}

/** Serves a JWKS (and an OpenID configuration naming it) that the test changes at will. */
export interface KeyServer {
  readonly url: string;
  readonly jwksUrl: string;
  /** The keys served. */
  keys: JWK[];
  /** How many times the JWKS was fetched. */
  fetches: number;
  /** How many times the OpenID configuration was asked for (answered or not). */
  discoveries: number;
  /** While true, every request answers 500. */
  down: boolean;
  close(): Promise<void>;
}

/** Starts a key server on a free port. */
export async function startKeyServer(keys: JWK[]): Promise<KeyServer> {
  let server: Server | undefined;
  const state: KeyServer = {
    url: '',
    jwksUrl: '',
    keys,
    fetches: 0,
    discoveries: 0,
    down: false,
    close: () => new Promise<void>((resolve) => server!.close(() => resolve())),
  };
  server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') state.discoveries++;
    if (state.down) {
      res.writeHead(500).end('down');
      return;
    }
    if (req.url === '/jwks.json') {
      state.fetches++;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
    } else if (req.url === '/.well-known/openid-configuration') {
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ issuer: state.url, jwks_uri: state.jwksUrl }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  (state as { url: string }).url = `http://127.0.0.1:${port}`;
  (state as { jwksUrl: string }).jwksUrl = `${state.url}/jwks.json`;
  return state;
}

/** A free TCP port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Signs a host token. */
export async function signToken(
  key: TestKey | { secret: string },
  claims: Record<string, unknown>,
  options: { issuer?: string; audience?: string; expiresIn?: string | number; kid?: string } = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setIssuedAt();
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  jwt.setExpirationTime(options.expiresIn ?? '10m');
  if ('secret' in key) {
    return jwt.setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(key.secret));
  }
  return jwt.setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid }).sign(key.privateKey);
}

/** The storages the suites run on. */
export type StorageKind = 'sqlite' | 'postgres';

/** A chat server for a host test, with the lines its logger wrote. */
export interface HostChat {
  readonly app: ChatApp;
  readonly url: string;
  readonly logs: { level: string; event: string; fields?: Record<string, unknown> }[];
  connect(token: string): Promise<HubConnection>;
  /** A new API key (through the same service the CLI uses). */
  apiKey(name: string): Promise<string>;
  close(): Promise<void>;
}

let n = 0;

/** Starts a chat server on the storage with `env` added to the test defaults. */
export async function startHostChat(kind: StorageKind, env: Record<string, string>): Promise<HostChat> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hsth-chat-'));
  const schema = `hsth_${process.pid}_${Date.now()}_${++n}`;
  const storageEnv: Record<string, string> =
    kind === 'postgres' ? { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema } : {};
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ...TEST_ENV,
    ...storageEnv,
    ...env,
  });
  const logs: HostChat['logs'] = [];
  const keep =
    (level: string) =>
    (event: string, fields?: Record<string, unknown>): void => {
      logs.push({ level, event, ...(fields ? { fields } : {}) });
    };
  const logger: Logger = { debug: () => {}, info: keep('info'), warn: keep('warn'), error: keep('error') };
  const app = await createChatApp(config, { logger, drainTimeoutMs: 300 });
  const url = await app.listen();
  const clients: HubConnection[] = [];
  return {
    app,
    url,
    logs,
    async connect(token) {
      const connection = await connectClient(`${url}/hubs/chat`, { accessTokenFactory: () => token });
      clients.push(connection);
      return connection;
    },
    async apiKey(name) {
      return (await new ApiKeyService(app.storage).create(`${name}-${++n}`)).key;
    },
    async close() {
      await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (kind === 'postgres') {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    },
  };
}
