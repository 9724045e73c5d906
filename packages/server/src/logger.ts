/**
 * Structured logging. Events have stable names (`connection.opened`, `invocation.failed` …) and
 * flat fields. Secrets never reach a log: {@link redactUrl} hides `access_token` in URLs, and the
 * server never logs headers or tokens.
 * @module
 */

/** Log levels, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Fields of a log event. */
export type LogFields = Record<string, unknown>;

/**
 * Where the server writes its logs. Adapt pino, winston or anything else with four methods.
 *
 * @example
 * ```ts
 * const log = pino();
 * const logger: Logger = {
 *   debug: (event, fields) => log.debug({ event, ...fields }),
 *   info: (event, fields) => log.info({ event, ...fields }),
 *   warn: (event, fields) => log.warn({ event, ...fields }),
 *   error: (event, fields) => log.error({ event, ...fields }),
 * };
 * ```
 */
export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

const levels: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * A logger that writes one JSON line per event to stderr, at `minLevel` and above.
 */
export function createJsonLogger(
  minLevel: LogLevel = 'info',
  write: (line: string) => void = defaultWrite,
): Logger {
  const min = levels[minLevel];
  const emit = (level: LogLevel, event: string, fields?: LogFields) => {
    if (levels[level] < min) return;
    write(
      `${JSON.stringify({ time: new Date().toISOString(), level, event, ...serializeFields(fields) })}\n`,
    );
  };
  return {
    debug: (event, fields) => emit('debug', event, fields),
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
  };
}

function defaultWrite(line: string): void {
  process.stderr.write(line);
}

function serializeFields(fields: LogFields | undefined): LogFields | undefined {
  if (!fields) return fields;
  let out: LogFields | undefined;
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value instanceof Error) {
      out ??= { ...fields };
      out[key] = { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
    }
  }
  return out ?? fields;
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Returns `url` with the value of every `access_token` query parameter replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]');
}
