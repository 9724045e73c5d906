// The chat's OpenTelemetry wiring: log lines written inside a span carry its ids, the standard
// variables decide what is exported, and a hub invocation on the chat is traced.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createLogger } from '../src/logger.ts';
import { otlpWanted, startProcessTelemetry } from '../src/telemetry.ts';
import { startChat } from './helpers.ts';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
after(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

test('a log line written inside a span carries trace_id and span_id; outside, none', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const { server: log } = createLogger('info', 'node-t', sink);
  log.info('outside.span');
  const tracer = trace.getTracer('test');
  const ids = await tracer.startActiveSpan('work', async (span) => {
    await new Promise((resolve) => setTimeout(resolve, 5)); // the context survives an await
    log.info('inside.span', { detail: 1 });
    span.end();
    return span.spanContext();
  });
  const outside = lines.find((l) => l.event === 'outside.span')!;
  const inside = lines.find((l) => l.event === 'inside.span')!;
  assert.equal(outside.trace_id, undefined);
  assert.equal(inside.trace_id, ids.traceId);
  assert.equal(inside.span_id, ids.spanId);
  assert.equal(inside.trace_flags, '01');
  assert.equal(inside.nodeId, 'node-t');
});

test('the standard variables decide what is exported over OTLP', async () => {
  assert.equal(otlpWanted({}, 'traces'), false);
  assert.equal(otlpWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, 'traces'), true);
  assert.equal(otlpWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, 'metrics'), true);
  assert.equal(
    otlpWanted(
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_METRICS_EXPORTER: 'none' },
      'metrics',
    ),
    false,
  );
  assert.equal(otlpWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318' }, 'metrics'), false);
  assert.equal(
    otlpWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }, 'traces'),
    false,
  );
  assert.equal(await startProcessTelemetry({}), undefined, 'no SDK without the variables');
});

test('a chat hub invocation is a span ChatHub/<method> with the connection id', async () => {
  exporter.reset();
  const s = await startChat();
  try {
    const alice = await s.register('alice');
    const c = await s.connect(alice.token);
    await c.invoke('createRoom', { name: 'traced', isPrivate: false });
    const [span] = exporter.getFinishedSpans().filter((x) => x.name === 'ChatHub/createRoom');
    assert.ok(span, 'the createRoom span');
    assert.equal(span.attributes['rpc.system'], 'signalr');
    assert.equal(span.attributes['rpc.service'], 'ChatHub');
    assert.equal(span.attributes['signalr.hub'], '/hubs/chat');
    assert.equal(span.attributes['signalr.connection.id'], c.connectionId);
  } finally {
    await s.close();
  }
});
