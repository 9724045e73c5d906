// The end-to-end scenarios (cluster-scenarios.ts) on three chat processes over one PostgreSQL
// schema with the NATS JetStream backplane (BACKPLANE=nats, NATS_URL). Skips loudly without
// PostgreSQL or NATS (fails under CI=true); deletes the run's streams and bucket at the end.
import { connect } from 'node:net';
import { after, test } from 'node:test';
import { deleteNatsPrefix, requireService } from '@switchboard/testkit';
import { clusterScenarios } from './cluster-scenarios.ts';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const nats = new URL(NATS_URL);
const natsService = {
  kind: 'tcp',
  name: 'NATS',
  host: nats.hostname,
  port: Number(nats.port || 4222),
} as const;

const natsUp = await new Promise<boolean>((resolve) => {
  const socket = connect({ host: natsService.host, port: natsService.port });
  const done = (ok: boolean) => {
    socket.destroy();
    resolve(ok);
  };
  socket.setTimeout(1_000, () => done(false));
  socket.once('connect', () => done(true));
  socket.once('error', () => done(false));
});

if (natsUp) {
  // The run's prefix is `sb-chat-e2e_nats_<pid>_<time>` (process-cluster.ts).
  after(() => deleteNatsPrefix(NATS_URL, `sb-chat-e2e_nats_${process.pid}_`).catch(() => undefined));
  clusterScenarios('nats', () => ({ BACKPLANE: 'nats', NATS_URL }), false);
} else {
  // Skips loudly (fails under CI=true) instead of registering scenarios that cannot run.
  test('NATS for the chat cluster scenarios', async (t) => {
    await requireService(t, natsService);
  });
}
