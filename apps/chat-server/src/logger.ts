/**
 * Logging with pino: JSON lines on stdout, stable event names, and no secrets (request bodies,
 * headers and tokens are never logged; paths are logged without their query).
 * @module
 */
import type { Logger } from '@switchboard/server';
import { pino } from 'pino';

/** The chat's pino logger and the same logger in the hub server's shape. */
export function createLogger(level: string, nodeId: string): { pino: pino.Logger; server: Logger } {
  const log = pino({
    level,
    base: { nodeId },
    redact: {
      paths: ['token', 'password', '*.token', '*.password', 'authorization', '*.authorization'],
      censor: '[redacted]',
    },
  });
  return {
    pino: log,
    server: {
      debug: (event, fields) => log.debug({ event, ...fields }),
      info: (event, fields) => log.info({ event, ...fields }),
      warn: (event, fields) => log.warn({ event, ...fields }),
      error: (event, fields) => log.error({ event, ...fields }),
    },
  };
}
