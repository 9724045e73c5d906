/**
 * The backplanes the chat's cluster tests run on, one entry each: a test file registers its
 * scenario once per entry (`for (const backplane of chatBackplanes)`), so another backplane (NATS)
 * is one more entry here. Storage is always PostgreSQL (`DATABASE_URL`).
 */
import type { TestContext } from 'node:test';
import { deleteRedisPrefix, requireService, type Service } from '@switchboard/testkit';
import { DATABASE_URL, REDIS_URL } from './process-cluster.ts';

/** One backplane of the cluster tests. */
export interface ChatBackplane {
  /** Its name in test titles (`redis`, `postgres`). */
  readonly name: string;
  /** The services it needs besides the storage's PostgreSQL. */
  readonly services: readonly Service[];
  /** The chat's variables that select it (beside `BACKPLANE_PREFIX` and `NODE_ID`). */
  readonly env: () => Record<string, string>;
  /** Removes what a run left under `prefix` outside PostgreSQL schemas (which the tests drop). */
  readonly cleanup: (prefix: string) => Promise<void>;
}

const redis = new URL(REDIS_URL);
const db = new URL(DATABASE_URL);

/** The storage's PostgreSQL, needed by every chat node. */
export const POSTGRES_SERVICE: Service = {
  kind: 'tcp',
  name: 'PostgreSQL',
  host: db.hostname,
  port: Number(db.port || 5432),
};

/** Every backplane the cluster tests cover. */
export const chatBackplanes: readonly ChatBackplane[] = [
  {
    name: 'redis',
    services: [{ kind: 'tcp', name: 'Redis', host: redis.hostname, port: Number(redis.port || 6379) }],
    env: () => ({ REDIS_URL }),
    cleanup: (prefix) => deleteRedisPrefix(REDIS_URL, prefix),
  },
  {
    name: 'postgres',
    services: [],
    env: () => ({ BACKPLANE: 'postgres', BACKPLANE_URL: DATABASE_URL }),
    // Its tables live in the schema named after the prefix, dropped with the run's schemas.
    cleanup: async () => {},
  },
];

/** Whether the storage and every service of `backplane` answer; else the test skips loudly. */
export async function backplaneAvailable(t: TestContext, backplane: ChatBackplane): Promise<boolean> {
  for (const service of [POSTGRES_SERVICE, ...backplane.services])
    if (!(await requireService(t, service))) return false;
  return true;
}
