// Issue #15 on PostgreSQL (a fresh `hsth_` schema per server): the host app's tokens and the
// server API. Skips loudly without PostgreSQL (fails under CI=true).
import { test } from 'node:test';
import { requireService } from '@switchboard/testkit';
import { serverApiSuite } from './api-suite.ts';
import { hostTokenSuite } from './host-suite.ts';

let available = false;
test('PostgreSQL is reachable', async (t) => {
  available = await requireService(t, { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 });
});

hostTokenSuite('postgres', () => available);
serverApiSuite('postgres', () => available);
