// OpenTelemetry traces: a span per invocation named as ASP.NET Core names them, failures, streams
// and client results traced, and a send's trace context carried in the backplane envelope so that
// the node that delivers it opens a child (and linked) span.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Hub } from '@switchboard/server';
import { LoopbackNetwork, LoopbackPresenceNetwork, loopbackBackplane } from '@switchboard/server/testing';
import { connectClient, startTestServer, waitFor } from '@switchboard/testkit';
import { decodeEnvelope, encodeEnvelope } from '../src/scaleout/envelope.ts';
import { activeTraceparent, parseTraceparent } from '../src/telemetry/tracing.ts';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
trace.setGlobalTracerProvider(provider);
after(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

class TracedHub extends Hub {
  echo(text: string) {
    return text;
  }
  fail() {
    throw new Error('boom');
  }
  async *counter(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
  async ask() {
    return `client said ${await this.clients.caller.invoke('question')}`;
  }
  async broadcast(text: string) {
    await this.clients.all.send('m', text);
  }
}

function spans(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

test('a span per invocation: <hub>/<method>, rpc.* attributes, connection id, outcome', async () => {
  exporter.reset();
  const server = await startTestServer((hubs) => hubs.mapHub('/traced', TracedHub));
  try {
    const client = await connectClient(`${server.baseUrl}/traced`, {
      transport: HttpTransportType.WebSockets,
    });
    const connectionId = client.connectionId;
    assert.equal(await client.invoke('echo', 'hi'), 'hi');
    await assert.rejects(client.invoke('fail'));
    await assert.rejects(client.invoke('nope'));
    const items: number[] = [];
    await new Promise<void>((resolve, reject) =>
      client.stream('counter', 3).subscribe({ next: (i) => items.push(i), complete: resolve, error: reject }),
    );
    await client.stop();

    const [echo] = spans('TracedHub/echo');
    assert.ok(echo, 'the echo span');
    assert.equal(echo.kind, SpanKind.SERVER);
    assert.deepEqual(
      {
        system: echo.attributes['rpc.system'],
        service: echo.attributes['rpc.service'],
        method: echo.attributes['rpc.method'],
        hub: echo.attributes['signalr.hub'],
      },
      { system: 'signalr', service: 'TracedHub', method: 'echo', hub: '/traced' },
    );
    assert.equal(echo.attributes['signalr.connection.id'], connectionId);
    assert.equal(echo.status.code, SpanStatusCode.UNSET);
    assert.equal(echo.parentSpanContext, undefined, 'each invocation starts its own trace');

    const [fail] = spans('TracedHub/fail');
    assert.equal(fail?.status.code, SpanStatusCode.ERROR);
    assert.equal(fail?.attributes['error.type'], 'SB_ERR_HUB_METHOD_FAILED');
    const [unknown] = spans('TracedHub/unknown');
    assert.equal(unknown?.attributes['rpc.method'], 'unknown', 'names stay within the declared methods');
    assert.equal(unknown?.status.code, SpanStatusCode.ERROR);

    const [stream] = spans('TracedHub/counter');
    assert.deepEqual(items, [0, 1, 2]);
    assert.equal(stream?.attributes['signalr.stream'], true);
    assert.equal(stream?.status.code, SpanStatusCode.UNSET);
  } finally {
    await server.close();
  }
});

test('a client result the server awaits is a child span of the invocation', async () => {
  exporter.reset();
  const server = await startTestServer((hubs) => hubs.mapHub('/traced', TracedHub));
  try {
    const client = await connectClient(`${server.baseUrl}/traced`);
    client.on('question', () => 42);
    assert.equal(await client.invoke('ask'), 'client said 42');
    await client.stop();
    const [ask] = spans('TracedHub/ask');
    const [result] = spans('TracedHub/question client result');
    assert.ok(ask && result);
    assert.equal(result.kind, SpanKind.CLIENT);
    assert.equal(result.spanContext().traceId, ask.spanContext().traceId);
    assert.equal(result.parentSpanContext?.spanId, ask.spanContext().spanId);
  } finally {
    await server.close();
  }
});

test('a send made on node A is delivered on node B inside a child span linked to it', async () => {
  exporter.reset();
  const network = new LoopbackNetwork();
  const presenceNetwork = new LoopbackPresenceNetwork();
  const node = (nodeId: string) => ({
    backplane: loopbackBackplane({ network, presenceNetwork, nodeId }),
  });
  const a = await startTestServer((hubs) => hubs.mapHub('/traced', TracedHub), node('a'));
  const b = await startTestServer((hubs) => hubs.mapHub('/traced', TracedHub), node('b'));
  try {
    await Promise.all([a.hubs.ready(), b.hubs.ready()]);
    const onA = await connectClient(`${a.baseUrl}/traced`);
    const onB = await connectClient(`${b.baseUrl}/traced`);
    const received: string[] = [];
    onB.on('m', (text: string) => received.push(text));
    await onA.invoke('broadcast', 'across');
    await waitFor(() => received.length === 1);
    await waitFor(() => spans('/traced/m deliver').length === 1);
    const [send] = spans('TracedHub/broadcast');
    const [deliver] = spans('/traced/m deliver');
    assert.ok(send && deliver);
    assert.equal(deliver.kind, SpanKind.CONSUMER);
    assert.equal(deliver.spanContext().traceId, send.spanContext().traceId, 'one trace across nodes');
    assert.equal(deliver.parentSpanContext?.spanId, send.spanContext().spanId);
    assert.equal(deliver.links[0]?.context.spanId, send.spanContext().spanId, 'linked to the send');
    assert.equal(deliver.attributes['switchboard.node.id'], 'b');
    assert.equal(deliver.attributes['switchboard.origin.node.id'], 'a');
    await Promise.all([onA.stop(), onB.stop()]);
  } finally {
    await b.close();
    await a.close();
  }
});

test('the envelope carries the trace context only inside a sampled span; a malformed one is ignored', () => {
  assert.equal(activeTraceparent(), undefined, 'no active span');
  const span = trace.getTracer('test').startSpan('outer');
  context.with(trace.setSpan(context.active(), span), () => {
    const tp = activeTraceparent();
    assert.equal(tp, `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
    const bytes = encodeEnvelope({ v: 1, o: 'a', n: 1, k: 'm', t: 'm', f: {}, tp: tp! });
    const decoded = decodeEnvelope(bytes);
    assert.equal(decoded.k === 'm' && decoded.tp, tp);
  });
  span.end();
  assert.equal(parseTraceparent('00-zz-11-01'), undefined);
  assert.equal(
    parseTraceparent(`00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`),
    undefined,
    'an invalid trace id',
  );
  assert.equal(parseTraceparent(42), undefined);
});
