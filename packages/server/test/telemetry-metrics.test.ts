// OpenTelemetry metrics: the reference's instrument names and attribute values, ours beside them,
// method attributes bounded by the hub's own methods, and nothing at all without an SDK.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { Hub, jwtBearerAuthenticator, liveMeter, signJwt, TELEMETRY_SCOPE } from '@switchboard/server';
import { LoopbackNetwork, LoopbackPresenceNetwork, loopbackBackplane } from '@switchboard/server/testing';
import { connectClient, RawClient, startTestServer, waitFor } from '@switchboard/testkit';

class EchoHub extends Hub {
  echo(text: string) {
    return text;
  }
  fail() {
    throw new Error('boom');
  }
}

/** A meter provider whose metrics a test reads (cumulative, collected on demand). */
function memoryMeter() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  return {
    provider,
    /** Every metric of the server's scope, by name, as collected now. */
    async collect(): Promise<Map<string, MetricData>> {
      exporter.reset();
      await reader.forceFlush();
      const byName = new Map<string, MetricData>();
      for (const resource of exporter.getMetrics()) {
        for (const scope of resource.scopeMetrics) {
          if (scope.scope.name !== TELEMETRY_SCOPE) continue;
          for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
        }
      }
      return byName;
    },
  };
}

/** Waits until an asynchronous check holds (5 s at most). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function points(metric: MetricData | undefined): DataPoint<unknown>[] {
  return (metric?.dataPoints ?? []) as DataPoint<unknown>[];
}

function sum(metric: MetricData | undefined, where: Record<string, string> = {}): number {
  let total = 0;
  for (const p of points(metric)) {
    if (Object.entries(where).every(([k, v]) => p.attributes[k] === v)) total += p.value as number;
  }
  return total;
}

test('without an SDK the API hands out its no-op meter and the server installs no instrument', () => {
  assert.equal(liveMeter(), undefined, 'no global SDK in this process');
  assert.equal(liveMeter(metrics.getMeterProvider()), undefined);
  assert.ok(liveMeter(new MeterProvider()), 'an SDK provider gives a live meter');
});

test("the reference's instruments and attributes, and ours: connections, invocations, errors, bytes", async () => {
  const meter = memoryMeter();
  const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
    meterProvider: meter.provider,
  });
  let closed = false;
  try {
    const ws = await connectClient(`${server.baseUrl}/echo`, { transport: HttpTransportType.WebSockets });
    const lp = await connectClient(`${server.baseUrl}/echo`, { transport: HttpTransportType.LongPolling });
    assert.equal(await ws.invoke('echo', 'hi'), 'hi');
    assert.equal(await lp.invoke('echo', 'there'), 'there');
    await assert.rejects(ws.invoke('fail'));
    const raw = await RawClient.connect(`${server.baseUrl}/echo`);
    await raw.invoke('noSuchMethod', []);
    await raw.invoke('ECHO', ['case-insensitive']);

    let m = await meter.collect();
    assert.equal(m.get('signalr.server.active_connections')?.descriptor.unit, '{connection}');
    assert.equal(sum(m.get('signalr.server.active_connections')), 3);
    assert.equal(sum(m.get('signalr.server.active_connections'), { 'signalr.transport': 'long_polling' }), 1);
    assert.equal(sum(m.get('signalr.server.active_connections'), { 'signalr.transport': 'web_sockets' }), 2);
    const invocations = m.get('switchboard.invocations');
    const methods = new Set(
      points(invocations)
        .map((p) => p.attributes['signalr.method'])
        .filter((m) => m !== undefined), // the hub's series started at 0
    );
    assert.deepEqual([...methods].sort(), ['echo', 'fail', 'unknown'], 'declared names or unknown only');
    assert.equal(sum(invocations, { 'signalr.method': 'echo' }), 3);
    assert.equal(sum(m.get('switchboard.invocations.failed')), 2, 'fail, and the unknown target');
    assert.equal(sum(m.get('switchboard.errors'), { 'error.type': 'SB_ERR_HUB_METHOD_FAILED' }), 1);
    assert.ok(sum(m.get('switchboard.messages.received')) >= 5);
    assert.ok(sum(m.get('switchboard.bytes.received')) > 0);
    assert.ok(sum(m.get('switchboard.bytes.sent')) > 0);
    assert.equal(m.get('switchboard.bytes.sent')?.descriptor.unit, 'By');

    // A client that closes: normal_closure. Then the server's shutdown ends the other two.
    await lp.stop();
    await until(
      async () => sum((await meter.collect()).get('switchboard.connections.closed')) === 1,
      'the long polling connection to close',
    );
    await server.close();
    closed = true;
    await ws.stop();
    raw.close();
    m = await meter.collect();
    const durations = points(m.get('signalr.server.connection.duration'));
    assert.equal(m.get('signalr.server.connection.duration')?.descriptor.unit, 's');
    const statuses = durations
      .map((p) => `${p.attributes['signalr.transport']}:${p.attributes['signalr.connection.status']}`)
      .sort();
    assert.deepEqual(statuses, ['long_polling:normal_closure', 'web_sockets:app_shutdown']);
    assert.equal(sum(m.get('signalr.server.active_connections')), 0);
  } finally {
    if (!closed) await server.close();
    await meter.provider.shutdown();
  }
});

test('a client that goes silent ends with signalr.connection.status = timeout', async () => {
  const meter = memoryMeter();
  const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
    meterProvider: meter.provider,
    clientTimeoutIntervalMs: 300,
    keepAliveIntervalMs: 60_000,
    heartbeatIntervalMs: 20,
  });
  try {
    const raw = await RawClient.connect(`${server.baseUrl}/echo`);
    raw.ping(); // arms the client timeout; then the client says nothing more
    await raw.waitForClose();
    await until(
      async () => points((await meter.collect()).get('signalr.server.connection.duration')).length > 0,
      'the connection to time out',
    );
    const [point] = points((await meter.collect()).get('signalr.server.connection.duration'));
    assert.equal(point?.attributes['signalr.connection.status'], 'timeout');
  } finally {
    await server.close();
    await meter.provider.shutdown();
  }
});

test('the scale-out core counters and presence transitions are observed per hub', async () => {
  const meter = memoryMeter();
  const network = new LoopbackNetwork();
  const presenceNetwork = new LoopbackPresenceNetwork();
  const secret = 'telemetry-test-secret';
  const node = (nodeId: string) => ({
    backplane: loopbackBackplane({ network, presenceNetwork, nodeId, presenceGraceMs: 0 }),
    authenticate: jwtBearerAuthenticator({ secret }),
  });
  const a = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
    meterProvider: meter.provider,
    ...node('a'),
  });
  const b = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), node('b'));
  try {
    await Promise.all([a.hubs.ready(), b.hubs.ready()]);
    const token = signJwt({ sub: 'alice' }, secret);
    const client = await connectClient(`${b.baseUrl}/echo?access_token=${token}`);
    const received: string[] = [];
    client.on('m', (text: string) => received.push(text));
    await a.hubs.hubContext('/echo').clients.all.send('m', 'from a');
    await waitFor(() => received.length === 1);
    const m = await meter.collect();
    assert.ok(sum(m.get('switchboard.backplane.published'), { 'signalr.hub': '/echo' }) >= 1);
    assert.ok(m.has('switchboard.backplane.lost'));
    assert.ok(m.has('switchboard.backplane.replayed'));
    assert.ok(m.has('switchboard.backplane.subscribed_channels'));
    await client.stop();
    // alice's first and last connection were on node b; node a heard both transitions.
    await until(
      async () =>
        sum((await meter.collect()).get('switchboard.presence.transitions'), {
          'switchboard.presence.transition': 'offline',
        }) === 1,
      'the offline transition',
    );
    const after = await meter.collect();
    assert.equal(
      sum(after.get('switchboard.presence.transitions'), { 'switchboard.presence.transition': 'online' }),
      1,
    );
  } finally {
    await b.close();
    await a.close();
    await meter.provider.shutdown();
  }
});
