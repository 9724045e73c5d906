// `new HubServer({ backplane })`: the backplane gives every hub its lifetime manager and the
// server its presence store, `ready()` is awaited before serving, `health()` reports it, and
// `hubs.close()` closes it.
import assert from 'node:assert/strict';
import test from 'node:test';
import { HubServer } from '../src/hub-server.ts';
import { Hub } from '../src/hubs/hub.ts';
import { DefaultHubLifetimeManager } from '../src/lifetime/default-hub-lifetime-manager.ts';
import { silentLogger } from '../src/logger.ts';
import { DefaultPresenceStore } from '../src/presence/default-presence-store.ts';
import { ScaleoutHubLifetimeManager } from '../src/scaleout/scaleout-hub-lifetime-manager.ts';
import { LoopbackNetwork, LoopbackPresenceNetwork, loopbackBackplane } from '../src/testing/index.ts';

class ChatHub extends Hub {}
class OtherHub extends Hub {}

test('the backplane gives every hub its manager and the presence store; ready, health and close follow it', async () => {
  const network = new LoopbackNetwork();
  const backplane = loopbackBackplane({
    network,
    presenceNetwork: new LoopbackPresenceNetwork(),
    nodeId: 'node-a',
  });
  const hubs = new HubServer({ backplane, logger: silentLogger });
  hubs.mapHub('/chat', ChatHub).mapHub('/other', OtherHub);
  assert.equal(hubs.presence, backplane.presence);
  assert.ok(hubs.lifetimeManager('/chat') instanceof ScaleoutHubLifetimeManager);
  assert.notEqual(hubs.lifetimeManager('/chat'), hubs.lifetimeManager('/other'));
  assert.equal(hubs.health()?.ready, false, 'not ready before ready()');
  await hubs.ready();
  const health = hubs.health()!;
  assert.equal(health.ready, true);
  assert.equal(health.backend, 'loopback');
  assert.equal(health.nodeId, 'node-a');
  assert.deepEqual(Object.keys(health.hubs).sort(), ['/chat', '/other']);
  assert.equal(health.hubs['/chat']!.connected, true);
  assert.equal(health.hubs['/chat']!.counters.subscribedChannels, 2, 'all and the node inbox');
  network.disconnect('node-a');
  assert.equal(hubs.health()!.ready, false, 'a disconnected bus is not ready');
  network.reconnect('node-a');
  await hubs.close();
  await assert.rejects(hubs.presence.onlineUsers(), { code: 'SB_ERR_PRESENCE_CLOSED' });
  assert.equal(hubs.health()!.ready, false);
});

test('a backplane does not go with its own presence store or lifetime manager factory', () => {
  const backplane = loopbackBackplane({
    network: new LoopbackNetwork(),
    presenceNetwork: new LoopbackPresenceNetwork(),
  });
  assert.throws(() => new HubServer({ backplane, presence: new DefaultPresenceStore() }), {
    code: 'SB_ERR_HUB_CONFIGURATION',
  });
  assert.throws(
    () =>
      new HubServer({
        backplane,
        lifetimeManagerFactory: () => new DefaultHubLifetimeManager(),
      }),
    { code: 'SB_ERR_HUB_CONFIGURATION' },
  );
  return backplane.close();
});
