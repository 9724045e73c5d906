import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import type { TestContext } from 'node:test';

/** What a test needs from the machine. */
export type Service =
  | { kind: 'tcp'; name: string; host: string; port: number }
  | { kind: 'file'; name: string; path: string };

async function available(service: Service): Promise<boolean> {
  if (service.kind === 'file') return existsSync(service.path);
  return new Promise((resolve) => {
    const socket = connect({ host: service.host, port: service.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Skips the test, with a loud line on stderr, when a service it needs (Redis, PostgreSQL,
 * Chromium) is absent; under `CI=true` fails it instead, because CI must run everything.
 * Returns true when the test may go on.
 *
 * @example
 * ```ts
 * test('in a browser', async (t) => {
 *   if (!(await requireService(t, { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH }))) return;
 *   ...
 * });
 * ```
 */
export async function requireService(t: TestContext, service: Service): Promise<boolean> {
  if (await available(service)) return true;
  const where = service.kind === 'file' ? service.path : `${service.host}:${service.port}`;
  const message = `${service.name} is not available at ${where}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: tests that need it must run)`);
  process.stderr.write(`\n!!! SKIPPED: ${t.name}: ${message}\n\n`);
  t.skip(message);
  return false;
}
