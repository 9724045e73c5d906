// Test helpers: the service as a spawned process, tokens signed with jose, REST calls, and the
// official client connected to a hub of the service.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HubConnection, IHubProtocol } from '@microsoft/signalr';
import { connectClient } from '@switchboard/testkit';
import { SignJWT } from 'jose';

const SERVE = fileURLToPath(new URL('./serve.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A running service process. */
export interface ServiceProcess {
  /** `http://127.0.0.1:PORT`. */
  readonly baseUrl: string;
  readonly port: number;
  /** The process id (with `--workers`, the primary's). */
  readonly pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  readonly output: () => string;
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<number | null>;
}

/** Runs `switchboard <args>` to its end and returns its exit code and output. */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Starts `switchboard serve <args>` on a free port and waits for its "Now listening on" line. */
export async function startService(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ServiceProcess> {
  const child = spawnCli(['serve', '--host', '127.0.0.1', '--port', '0', ...args], env);
  let output = '';
  const listening = new Promise<number>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      const match = /Now listening on: http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`the service exited (${code}) before listening:\n${output}`)),
    );
    setTimeout(() => reject(new Error(`the service did not listen within 60 s:\n${output}`)), 60_000).unref();
  });
  const port = await listening.catch((error: Error) => {
    child.kill('SIGKILL');
    throw error;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  const clean: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(clean))
    if (key.startsWith('SWITCHBOARD_') || key === 'PORT') delete clean[key];
  return spawn(process.execPath, ['--conditions=source', '--import', 'tsx', SERVE, ...args], {
    cwd: ROOT,
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** An HS256 JWT signed with `key`'s UTF-8 bytes. */
export function signToken(
  key: string,
  claims: Record<string, unknown>,
  options: { audience?: string; expiresInSeconds?: number; noExp?: boolean } = {},
): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt();
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  if (!options.noExp)
    jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 600));
  return jwt.sign(new TextEncoder().encode(key));
}

/** The client URL of a hub, as the reference's negotiate hands it out. */
export function hubUrl(baseUrl: string, hub: string): string {
  return `${baseUrl}/client/?hub=${hub}`;
}

/** The official client connected to `hub` as `user` (anonymous when undefined). */
export function connectHub(
  baseUrl: string,
  hub: string,
  key: string,
  user: string | undefined,
  protocol?: IHubProtocol,
): Promise<HubConnection> {
  const url = hubUrl(baseUrl, hub);
  return connectClient(url, {
    accessTokenFactory: () => signToken(key, user === undefined ? {} : { nameid: user }, { audience: url }),
    ...(protocol ? { protocol } : {}),
  });
}

/** One REST call with a token for its URL (audience: the URL without its query). */
export async function rest(
  baseUrl: string,
  key: string,
  method: string,
  path: string,
  options: { body?: unknown; query?: string; token?: string; apiVersion?: string | null } = {},
): Promise<{ status: number; body: unknown }> {
  const audience = `${baseUrl}${path}`;
  const token = options.token ?? (await signToken(key, {}, { audience }));
  const version =
    options.apiVersion === undefined
      ? 'api-version=2022-06-01'
      : options.apiVersion === null
        ? ''
        : `api-version=${options.apiVersion}`;
  const query = [version, options.query].filter(Boolean).join('&');
  const response = await fetch(`${baseUrl}${path}${query ? `?${query}` : ''}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(options.body !== undefined
      ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
      : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Collects what a client receives for `method`. */
export function collect(connection: HubConnection, method: string): unknown[][] {
  const got: unknown[][] = [];
  connection.on(method, (...args: unknown[]) => got.push(args));
  return got;
}

/**
 * Starts a client the service refuses and resolves with the error it reports: `start()` rejects
 * with it when the Close message arrives with the handshake answer, else the client connects and
 * closes with it right after.
 */
export function refusalOf(client: HubConnection): Promise<string> {
  const closed = new Promise<string>((resolve) => client.onclose((error) => resolve(String(error?.message))));
  return client.start().then(
    () => closed,
    (error: unknown) => String((error as Error)?.message),
  );
}
