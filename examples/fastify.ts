/**
 * A hub server next to a Fastify 5 app: `hubs.attach(app.server)` takes hub requests and WebSocket
 * upgrades before Fastify sees them and passes everything else to Fastify's router.
 *
 *   node --conditions=source --import tsx examples/fastify.ts     (PORT=3000 by default)
 */
import type { AddressInfo } from 'node:net';
import { HubServer } from '@switchboard/server';
import Fastify from 'fastify';
import { ChatHub, HUB_PATH, isMain, type RunningExample, runMain } from './chat-hub.ts';

export async function start(port = 0): Promise<RunningExample> {
  const hubs = new HubServer().mapHub(HUB_PATH, ChatHub);
  const app = Fastify();
  app.get('/health', async (_request, reply) => reply.type('text/plain').send('ok'));
  hubs.attach(app.server);
  await app.listen({ port, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    async close() {
      await hubs.close();
      await app.close();
    },
  };
}

if (isMain(import.meta.url)) await runMain(start);
