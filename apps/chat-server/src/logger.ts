/**
 * Logging with pino: JSON lines on stdout, stable event names, and no secrets (request bodies,
 * headers and tokens are never logged; paths are logged without their query).
 * @module
 */
import { context, trace } from '@opentelemetry/api';
import type { Logger } from '@switchboard/server';
import { pino } from 'pino';

/**
 * The trace and span ids of the span active now (`trace_id`, `span_id`, `trace_flags`, the
 * OpenTelemetry log data model's names), or nothing outside a span.
 */
export function traceFields(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: `0${sc.traceFlags.toString(16)}` };
}

/**
 * The chat's pino logger and the same logger in the hub server's shape. Each line written inside
 * a span carries its `trace_id` and `span_id`. `destination` replaces stdout (tests).
 */
export function createLogger(
  level: string,
  nodeId: string,
  destination?: pino.DestinationStream,
): { pino: pino.Logger; server: Logger } {
  const options: pino.LoggerOptions = {
    level,
    mixin: traceFields,
    base: { nodeId },
    redact: {
      paths: ['token', 'password', '*.token', '*.password', 'authorization', '*.authorization'],
      censor: '[redacted]',
    },
  };
  const log = destination ? pino(options, destination) : pino(options);
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
