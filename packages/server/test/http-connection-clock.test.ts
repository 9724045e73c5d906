// The heartbeat clock and the times each connection keeps are whole milliseconds, whatever the
// time provider's fractions: a connection then holds them as small integers in the object, not as
// a boxed number per field (what an idle connection costs in memory, issue #16).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpConnectionManager } from '../src/http/http-connection-manager.ts';
import type { TimeProvider } from '../src/time-provider.ts';

function fractionalTime(start: number): TimeProvider & { at: number } {
  const time = {
    at: start,
    now: () => time.at,
    setInterval: () => ({ cancel() {} }),
    setTimeout: () => ({ cancel() {} }),
  };
  return time;
}

test('the heartbeat clock and the connection times are whole milliseconds', () => {
  const time = fractionalTime(1_234.875);
  const manager = new HttpConnectionManager(time, 1_000, 5_000);
  assert.equal(manager.clock.now, 1_234);

  time.at = 2_000.5;
  const connection = manager.create('/hub', 1);
  assert.equal(manager.clock.now, 2_000);
  assert.equal(connection.inactiveSince, 2_000);

  manager.claim(connection, 'LongPolling');
  time.at = 2_500.25;
  manager.setActive(connection, false);
  assert.equal(connection.inactiveSince, 2_500);

  time.at = 3_000.75;
  manager.tick();
  assert.equal(manager.clock.now, 3_000);
  assert.ok(Number.isInteger(manager.clock.now));

  // Still counted from whole milliseconds: 5,000 ms after 2,500 disposes it, 4,999 does not.
  time.at = 7_499.9;
  manager.tick();
  assert.equal(manager.get(connection.connectionToken), connection);
  time.at = 7_500.1;
  manager.tick();
  assert.equal(manager.get(connection.connectionToken), undefined);
});
