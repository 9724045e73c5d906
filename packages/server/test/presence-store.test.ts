import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualTimeProvider } from '@switchboard/testkit';
import { presenceStoreSuite } from '../../testkit/src/suites/presence-store-suite.ts';
import { SwitchboardError } from '../src/errors.ts';
import {
  DefaultPresenceStore,
  InMemoryPresenceCluster,
  type NewPresenceConnection,
  type PresenceEvent,
  parseUserAgent,
} from '../src/presence/index.ts';

const EPOCH = 1_700_000_000_000;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

presenceStoreSuite('DefaultPresenceStore (in-memory cluster, manual clock)', async (timing) => {
  const time = new ManualTimeProvider();
  const cluster = new InMemoryPresenceCluster({
    ...timing,
    time,
    wallClock: () => EPOCH + time.now(),
    onError: () => {}, // the suite's throwing listener is expected
  });
  return {
    node: async (nodeId) => cluster.join(nodeId),
    crash: async (store) => cluster.crash(store.nodeId),
    advance: async (ms) => {
      time.advance(ms);
      await tick();
    },
    close: async () => cluster.dispose(),
  };
});

const connection = (connectionId: string, userId: string): NewPresenceConnection => ({
  connectionId,
  userId,
  transport: 'WebSockets',
  connectedAt: EPOCH,
  device: { type: 'desktop', browser: 'Chrome' },
});

describe('DefaultPresenceStore specifics', () => {
  test('a standalone store is one node with the default grace period, and close stops its timers', async () => {
    const time = new ManualTimeProvider();
    const store = new DefaultPresenceStore({ time, wallClock: () => EPOCH + time.now() });
    const events: PresenceEvent[] = [];
    store.subscribe((e) => events.push(e));
    assert.equal(store.nodeId, 'node-1');
    await store.addConnection(connection('c1', 'ada'));
    time.advance(1_000);
    await store.removeConnection('c1');
    time.advance(4_999);
    assert.equal(events.length, 1, 'the default grace is 5 s');
    time.advance(1);
    assert.deepEqual(events, [
      { type: 'userOnline', userId: 'ada', at: EPOCH, originNodeId: 'node-1' },
      // last seen, not the end of the grace
      { type: 'userOffline', userId: 'ada', at: EPOCH + 1_000, originNodeId: 'node-1' },
    ]);
    await store.addConnection(connection('c2', 'bob'));
    await store.close();
    assert.equal(time.pendingTimers, 0);
    time.advance(60_000);
    assert.equal(events.length, 3, 'nothing after close');
  });

  test('a grace period of zero announces the offline at once', async () => {
    const store = new DefaultPresenceStore({ graceMs: 0, time: new ManualTimeProvider() });
    const events: string[] = [];
    store.subscribe((e) => events.push(e.type));
    await store.addConnection(connection('c1', 'ada'));
    await store.removeConnection('c1');
    assert.deepEqual(events, ['userOnline', 'userOffline']);
    await store.close();
  });

  test("a listener's error goes to onError with the event", async () => {
    const errors: [unknown, PresenceEvent][] = [];
    const store = new DefaultPresenceStore({
      time: new ManualTimeProvider(),
      onError: (error, event) => errors.push([error, event]),
    });
    const boom = new Error('boom');
    store.subscribe(() => {
      throw boom;
    });
    await store.addConnection(connection('c1', 'ada'));
    assert.equal(errors.length, 1);
    assert.equal(errors[0]![0], boom);
    assert.equal(errors[0]![1].userId, 'ada');
    await store.close();
  });

  test('bad timing options are refused with SB_ERR_HUB_CONFIGURATION', () => {
    const refused = (make: () => unknown) =>
      assert.throws(
        make,
        (e: unknown) => e instanceof SwitchboardError && e.code === 'SB_ERR_HUB_CONFIGURATION',
      );
    refused(() => new InMemoryPresenceCluster({ graceMs: -1 }));
    refused(() => new InMemoryPresenceCluster({ leaseMs: Number.NaN }));
    refused(() => new InMemoryPresenceCluster({ leaseMs: 100, heartbeatIntervalMs: 100 }));
    const cluster = new InMemoryPresenceCluster({ time: new ManualTimeProvider() });
    refused(() => new DefaultPresenceStore({ cluster, graceMs: 10 }));
    cluster.join('a');
    refused(() => cluster.join('a'));
    cluster.dispose();
  });

  test('a node that comes back under the id of a dead one starts without its connections', async () => {
    const time = new ManualTimeProvider();
    const cluster = new InMemoryPresenceCluster({ time, graceMs: 100, leaseMs: 300 });
    const a = cluster.join('a');
    const b = cluster.join('b');
    await a.addConnection(connection('old', 'ada'));
    cluster.crash('a');
    const a2 = cluster.join('a'); // restarted before the sweep
    assert.deepEqual(await b.userConnections('ada'), []);
    await a2.addConnection(connection('new', 'ada'));
    time.advance(2_000);
    assert.deepEqual(
      (await b.userConnections('ada')).map((c) => c.connectionId),
      ['new'],
      'the new node keeps its lease',
    );
    await a.close(); // the crashed handle, closed late, leaves the new node alone
    assert.equal(await b.isOnline('ada'), true);
    assert.equal((await b.userConnections('ada')).length, 1);
    cluster.dispose();
  });
});

describe('parseUserAgent', () => {
  const cases: [string, string | undefined, string, string | undefined][] = [
    // [what, user agent, type, browser]
    [
      'official Node client',
      'Microsoft SignalR/10.0 (10.0.11; Linux; NodeJS; 20.20.2)',
      'bot',
      'SignalR NodeJS',
    ],
    [
      '.NET client',
      'Microsoft SignalR/8.0 (8.0.7+abc; Microsoft Windows 10.0.22631; .NET; .NET 8.0.7)',
      'bot',
      'SignalR .NET',
    ],
    [
      '.NET client on Android',
      'Microsoft SignalR/8.0 (8.0.7; Android 14; .NET; .NET 8.0.7)',
      'mobile',
      'SignalR .NET',
    ],
    [
      'JS client header in a browser',
      'Microsoft SignalR/10.0 (10.0.11; Unknown OS; Browser; Unknown Runtime Version)',
      'unknown',
      undefined,
    ],
    [
      'iPhone Safari',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      'mobile',
      'Safari',
    ],
    [
      'iPhone Chrome',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1',
      'mobile',
      'Chrome',
    ],
    [
      'iPad Safari',
      'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      'tablet',
      'Safari',
    ],
    [
      'Android phone Chrome',
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
      'mobile',
      'Chrome',
    ],
    [
      'Android tablet',
      'Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      'tablet',
      'Chrome',
    ],
    [
      'Samsung Internet',
      'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
      'mobile',
      'Samsung Internet',
    ],
    [
      'desktop Chrome on Windows',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      'desktop',
      'Chrome',
    ],
    [
      'desktop Edge',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.56',
      'desktop',
      'Edge',
    ],
    [
      'desktop Firefox on Linux',
      'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
      'desktop',
      'Firefox',
    ],
    [
      'desktop Safari on macOS',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      'desktop',
      'Safari',
    ],
    [
      'Opera',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/112.0.0.0',
      'desktop',
      'Opera',
    ],
    [
      'headless Chromium (Playwright)',
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/139.0.0.0 Safari/537.36',
      'bot',
      'HeadlessChrome',
    ],
    [
      'Googlebot',
      'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      'bot',
      'Googlebot',
    ],
    ['curl', 'curl/8.5.0', 'bot', 'curl'],
    ['something else', 'SomeTV/1.0', 'unknown', undefined],
    ['empty', '', 'unknown', undefined],
    ['absent', undefined, 'unknown', undefined],
  ];
  for (const [what, ua, type, browser] of cases) {
    test(`${what}: ${type}${browser ? `, ${browser}` : ''}`, () => {
      assert.deepEqual(parseUserAgent(ua), { type, browser });
    });
  }
});
