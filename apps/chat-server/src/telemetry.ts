/**
 * The chat's OpenTelemetry: a meter provider per app whose Prometheus reader serves `/metrics`
 * (and, with the standard OTLP variables, an OTLP reader beside it), the chat's own instruments,
 * and the process-wide SDK (`@opentelemetry/sdk-node`: traces, context, propagation) when the
 * standard variables ask for it. docs/server.md lists every metric name.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Meter, metrics } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { type IMetricReader, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { ChatCounters } from './domain/ports.js';
import type { BackplaneLagSnapshot } from './hub/backplane-lag.js';
import type { WebhookCounters } from './webhooks/dispatcher.js';

/** The service name when `OTEL_SERVICE_NAME` is not set. */
export const DEFAULT_SERVICE_NAME = 'switchboard-chat';

type Env = Readonly<Record<string, string | undefined>>;

/** Whether the standard variables ask for an OTLP export of `signal` (traces or metrics). */
export function otlpWanted(env: Env, signal: 'traces' | 'metrics'): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  const exporters = env[signal === 'traces' ? 'OTEL_TRACES_EXPORTER' : 'OTEL_METRICS_EXPORTER'];
  if (exporters?.split(',').some((e) => e.trim() === 'none')) return false;
  const endpoint =
    signal === 'traces' ? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT : env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || endpoint || exporters?.includes('otlp'));
}

/**
 * Starts the OpenTelemetry SDK for the process when the standard variables ask for traces
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_TRACES_EXPORTER`;
 * not with `OTEL_SDK_DISABLED=true`): the global tracer provider, the async context manager and
 * the W3C propagators, configured by the SDK from the same variables (`OTEL_SERVICE_NAME`,
 * `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` ...). Metrics stay with each app's own meter
 * provider ({@link ChatTelemetry}). Returns the SDK to shut down at exit, or undefined.
 */
export async function startProcessTelemetry(env: Env = process.env): Promise<NodeSDK | undefined> {
  if (!otlpWanted(env, 'traces')) return undefined;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: DEFAULT_SERVICE_NAME }),
    // Metrics go through each app's meter provider (Prometheus, and OTLP when asked).
    metricReaders: [],
    instrumentations: [],
  });
  sdk.start();
  return sdk;
}

/** One chat app's metrics: its meter provider, the `/metrics` handler, and shutdown. */
export interface ChatTelemetry {
  /** The provider the hub server and the chat record into. */
  readonly meterProvider: MeterProvider;
  /** Answers a `/metrics` request with the Prometheus text of every instrument. */
  serveMetrics(req: IncomingMessage, res: ServerResponse): void;
  /** Flushes and stops the readers. */
  shutdown(): Promise<void>;
}

/**
 * The meter provider of one chat app (one per node, so that nodes in one process, as in the
 * tests, keep their numbers apart): a Prometheus reader for `/metrics`, plus an OTLP reader when
 * the standard variables ask for one (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, unless `OTEL_METRICS_EXPORTER=none`).
 */
export function createChatTelemetry(nodeId: string, env: Env = process.env): ChatTelemetry {
  // Scope labels off: the series keep the names and labels /metrics always had.
  const prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  const readers: IMetricReader[] = [prometheus];
  if (otlpWanted(env, 'metrics')) {
    readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter() }));
  }
  const resource = detectResources({ detectors: [envDetector] }).merge(
    resourceFromAttributes({
      ...(env.OTEL_SERVICE_NAME ? {} : { 'service.name': DEFAULT_SERVICE_NAME }),
      'service.instance.id': nodeId,
    }),
  );
  const meterProvider = new MeterProvider({ readers, resource });
  return {
    meterProvider,
    serveMetrics: (req, res) => prometheus.getMetricsRequestHandler(req, res),
    shutdown: () => meterProvider.shutdown(),
  };
}

/** The chat's instrumentation scope (meter) name. */
export const CHAT_SCOPE = '@switchboard/chat-server';

/**
 * The chat's own instruments, read when a reader collects: messages stored, typing notices
 * dropped, refusals by code, and the backplane lag probe (delay per sending node, probes).
 */
export function observeChat(
  meter: Meter,
  counters: ChatCounters,
  lag: (() => BackplaneLagSnapshot) | undefined,
): void {
  meter
    .createObservableCounter('chat.messages.stored', { description: 'Chat messages stored.' })
    .addCallback((r) => r.observe(counters.messagesStored));
  meter
    .createObservableCounter('chat.typing.dropped', {
      description: 'Typing notices dropped (rate or membership).',
    })
    .addCallback((r) => r.observe(counters.typingDropped));
  meter
    .createObservableCounter('chat.refusals', { description: 'Hub calls refused, by chat error code.' })
    .addCallback((r) => {
      for (const [code, n] of counters.refusals) r.observe(n, { code });
    });
  if (lag === undefined) return;
  meter
    .createObservableGauge('switchboard.backplane.lag_seconds', {
      unit: 's',
      description:
        "Delay of the last lag probe from each other node through the backplane (includes the hosts' clock offset).",
    })
    .addCallback((r) => {
      for (const [from, ms] of lag().lastLagMs) r.observe(ms / 1000, { from });
    });
  meter
    .createObservableCounter('switchboard.backplane.lag_probes', {
      description: 'Lag probes received from other nodes.',
    })
    .addCallback((r) => r.observe(lag().probesReceived));
}

/**
 * The webhooks' instruments (this node's dispatcher): attempts delivered and failed, deliveries
 * given up after 24 hours, offline notices skipped, endpoints disabled.
 */
export function observeWebhooks(meter: Meter, counters: WebhookCounters): void {
  const counter = (name: string, description: string, read: () => number) =>
    meter.createObservableCounter(name, { description }).addCallback((r) => r.observe(read()));
  counter('chat.webhooks.delivered', 'Webhook attempts answered with a 2xx.', () => counters.delivered);
  counter(
    'chat.webhooks.failed_attempts',
    'Webhook attempts that failed (error, timeout, non-2xx).',
    () => counters.failedAttempts,
  );
  counter(
    'chat.webhooks.given_up',
    'Webhook deliveries given up after 24 hours of retries.',
    () => counters.givenUp,
  );
  counter(
    'chat.webhooks.skipped',
    'notification.offline deliveries dropped: the user came back.',
    () => counters.skipped,
  );
  counter(
    'chat.webhooks.endpoints_disabled',
    'Webhook endpoints disabled after failing for 24 hours.',
    () => counters.endpointsDisabled,
  );
}

/** The meter of the chat's scope on `provider` (the global one when none is given). */
export function chatMeter(provider = metrics.getMeterProvider()): Meter {
  return provider.getMeter(CHAT_SCOPE);
}
