/**
 * OpenTelemetry traces of the hub server, through `@opentelemetry/api` only (the global tracer
 * provider; without an SDK every span is the API's non-recording one and nothing is built).
 *
 * - A span per hub invocation, `<hub>/<method>` (kind server), as ASP.NET Core's
 *   `Microsoft.AspNetCore.SignalR.Server` activity source names them: `rpc.system = signalr`,
 *   `rpc.service` (the hub's class name), `rpc.method` (the declared method name, or `unknown`),
 *   `signalr.hub` (its path), `signalr.connection.id`, and on failure the status `ERROR` with
 *   `error.type` (the catalogue code). A client that sends a W3C `traceparent` in the invocation's
 *   headers becomes its parent; otherwise each invocation starts a trace, as in the reference.
 *   Streams get one span from the StreamInvocation to its Completion.
 * - A span per client result the server awaits (`<hub>/<method> client result`, kind client).
 * - The trace context of the span active when a send is made travels in the backplane envelope
 *   (`tp`, the W3C traceparent form); the node that delivers it opens `<hub>/<method> deliver`
 *   (kind consumer) as its child, linked to it.
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { TELEMETRY_SCOPE } from './hub-instruments.js';

/** The tracer of the hub server (the global provider's, looked up at each span). */
const tracer = trace.getTracer(TELEMETRY_SCOPE);
/** The provider {@link tracer} came from: the API's proxy, until an SDK registers its delegate. */
const provider = trace.getTracerProvider();

/**
 * False while no SDK is registered (the proxy provider has no delegate): every span would be the
 * API's non-recording one, so the hot paths skip naming and starting it. True otherwise, and for a
 * provider this check cannot see into.
 */
export function tracingEnabled(): boolean {
  return (
    !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer(TELEMETRY_SCOPE) !== undefined
  );
}

const headersGetter = {
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string) => carrier[key],
};

/**
 * Starts the span of one hub invocation, or returns undefined when it would not record (no SDK,
 * or not sampled): then the caller skips the tracing work altogether.
 */
export function startInvocationSpan(
  hubName: string,
  hubPath: string,
  method: string,
  connectionId: string,
  headers: Readonly<Record<string, string>> | undefined,
): { span: Span; context: Context } | undefined {
  const parent =
    headers !== undefined && headers.traceparent !== undefined
      ? propagation.extract(ROOT_CONTEXT, headers, headersGetter)
      : ROOT_CONTEXT;
  const span = tracer.startSpan(`${hubName}/${method}`, { kind: SpanKind.SERVER }, parent);
  if (!span.isRecording()) return undefined;
  span.setAttributes({
    'rpc.system': 'signalr',
    'rpc.service': hubName,
    'rpc.method': method,
    'signalr.hub': hubPath,
    'signalr.connection.id': connectionId,
  });
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends a span: `OK` outcome when `errorType` is undefined, else status `ERROR` with `error.type`. */
export function endSpan(span: Span, errorType: string | undefined, extra?: Attributes): void {
  if (extra !== undefined) span.setAttributes(extra);
  if (errorType !== undefined) {
    span.setAttribute('error.type', errorType);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/**
 * Runs `work` (a client result the server awaits) inside its span when the active context is
 * traced; the span ends with the outcome.
 */
export function traceClientResult<R>(
  hubName: string,
  method: string,
  connectionId: string,
  work: () => Promise<R>,
): Promise<R> {
  const active = context.active();
  if (trace.getSpan(active) === undefined) return work();
  const span = tracer.startSpan(`${hubName}/${method} client result`, { kind: SpanKind.CLIENT }, active);
  if (!span.isRecording()) return work();
  span.setAttributes({
    'rpc.system': 'signalr',
    'rpc.service': hubName,
    'rpc.method': method,
    'signalr.connection.id': connectionId,
  });
  return context.with(trace.setSpan(active, span), work).then(
    (value) => {
      endSpan(span, undefined);
      return value;
    },
    (error: unknown) => {
      endSpan(
        span,
        (error as { code?: unknown })?.code === undefined
          ? 'client_error'
          : String((error as { code: unknown }).code),
      );
      throw error;
    },
  );
}

/**
 * The trace context to carry in a backplane envelope (`00-<trace id>-<span id>-<flags>`): the span
 * active now, when it is a valid, sampled one; else undefined (nothing is added).
 */
export function activeTraceparent(): string | undefined {
  const span = trace.getSpan(context.active());
  if (span === undefined) return undefined;
  const sc = span.spanContext();
  if ((sc.traceFlags & 1) === 0 || !trace.isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-01`;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The remote span context of a carried traceparent, or undefined for anything malformed. */
export function parseTraceparent(value: unknown): SpanContext | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value);
  if (match === null) return undefined;
  const sc: SpanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16),
    isRemote: true,
  };
  return trace.isSpanContextValid(sc) ? sc : undefined;
}

/**
 * Runs the local delivery of an envelope that carried a trace context inside a consumer span,
 * child of the sending node's span and linked to it. Without a valid context, or without an SDK,
 * it just runs `deliver`.
 */
export function traceDelivery(
  carried: unknown,
  hubName: string,
  target: string,
  attributes: Attributes,
  deliver: () => void,
): void {
  const remote = parseTraceparent(carried);
  if (remote === undefined) {
    deliver();
    return;
  }
  const parent = trace.setSpanContext(ROOT_CONTEXT, remote);
  const span = tracer.startSpan(
    `${hubName}/${target} deliver`,
    { kind: SpanKind.CONSUMER, links: [{ context: remote }] },
    parent,
  );
  if (!span.isRecording()) {
    deliver();
    return;
  }
  span.setAttributes({ 'rpc.system': 'signalr', 'signalr.hub': hubName, ...attributes });
  try {
    context.with(trace.setSpan(parent, span), deliver);
  } finally {
    span.end();
  }
}
