import assert from 'node:assert/strict';
import test from 'node:test';
import { DefaultHubLifetimeManager, Hub, HubServer, silentLogger } from '@switchboard/server';

class PlainHub extends Hub {}

/** A manager that records whether it was closed. */
class ClosableManager extends DefaultHubLifetimeManager {
  closed = 0;
  async close(): Promise<void> {
    this.closed++;
  }
}

test('close() closes the lifetime managers the server created, and leaves the ones it was given', async () => {
  const created: ClosableManager[] = [];
  const given = new ClosableManager();
  const hubs = new HubServer({
    logger: silentLogger,
    lifetimeManagerFactory: () => {
      const manager = new ClosableManager();
      created.push(manager);
      return manager;
    },
  });
  hubs.mapHub('/a', PlainHub).mapHub('/b', PlainHub).mapHub('/c', PlainHub, { lifetimeManager: given });
  await hubs.close();
  assert.deepEqual(
    created.map((m) => m.closed),
    [1, 1],
  );
  assert.equal(given.closed, 0, 'the app owns what it passed in');
});
