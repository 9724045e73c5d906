// A trace across two nodes on a real Redis: the send made inside an invocation on node A carries
// its trace context in the backplane envelope, and node B delivers it in a span of the same trace.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Hub } from '@switchboard/server';
import { connectClient, startTestServer, waitFor } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { redisBackplane } from '../src/index.ts';
import { REDIS_URL, requireRedis, uniquePrefix } from './helpers.ts';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
after(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

class RoomHub extends Hub {
  async join(room: string) {
    await this.groups.add(this.context.connectionId, room);
  }
  async say(room: string, text: string) {
    await this.clients.group(room).send('said', text);
  }
}

function spans(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

test('a group send on node A and its delivery on node B share one trace id (Redis)', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const start = (nodeId: string) =>
    startTestServer((hubs) => hubs.mapHub('/rooms', RoomHub), {
      backplane: redisBackplane({ url: REDIS_URL, prefix, nodeId }),
    });
  const a = await start('a');
  const b = await start('b');
  const admin = new Redis(REDIS_URL);
  try {
    await Promise.all([a.hubs.ready(), b.hubs.ready()]);
    const speaker = await connectClient(`${a.baseUrl}/rooms`);
    const listener = await connectClient(`${b.baseUrl}/rooms`);
    const heard: string[] = [];
    listener.on('said', (text: string) => heard.push(text));
    await listener.invoke('join', 'lobby');
    await speaker.invoke('say', 'lobby', 'over redis');
    await waitFor(() => heard.length === 1);
    await waitFor(() => spans('/rooms/said deliver').length === 1);
    const [say] = spans('RoomHub/say');
    const [deliver] = spans('/rooms/said deliver');
    assert.ok(say && deliver);
    assert.equal(say.attributes['rpc.system'], 'signalr');
    assert.equal(deliver.kind, SpanKind.CONSUMER);
    assert.equal(deliver.spanContext().traceId, say.spanContext().traceId);
    assert.equal(deliver.parentSpanContext?.spanId, say.spanContext().spanId);
    assert.equal(deliver.links[0]?.context.traceId, say.spanContext().traceId);
    assert.equal(deliver.attributes['switchboard.backplane'], 'redis');
    assert.equal(deliver.attributes['switchboard.origin.node.id'], 'a');
    assert.equal(deliver.attributes['switchboard.node.id'], 'b');
    await Promise.all([speaker.stop(), listener.stop()]);
  } finally {
    await Promise.all([a.close(), b.close()]);
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  }
});
