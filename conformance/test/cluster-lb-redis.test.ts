/**
 * Issue #5 behind a load balancer: three conformance server processes on the machine's Redis
 * behind haproxy (deploy/haproxy/switchboard.cfg), the official client spread across them.
 */

import { loadBalancerSuite, requireService } from '@switchboard/testkit';
import { Redis } from 'ioredis';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Deletes every key of a test cluster's prefix. */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await admin.connect();
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
}

loadBalancerSuite({
  name: 'Redis',
  require: (t) => {
    const url = new URL(REDIS_URL);
    return requireService(t, {
      kind: 'tcp',
      name: 'Redis',
      host: url.hostname,
      port: Number(url.port || 6379),
    });
  },
  spec: () => ({ kind: 'redis', url: REDIS_URL }),
  cleanup: (prefix) => deletePrefix(REDIS_URL, prefix),
});
