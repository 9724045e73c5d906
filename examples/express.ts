/**
 * A hub server inside an Express 5 app, as a middleware: `hubs.handleRequest(req, res)` serves hub
 * requests and returns false for the app's own routes. WebSocket upgrades bypass Express, so the
 * HTTP server's `upgrade` event goes to `hubs.handleUpgrade`. (`hubs.attach(server)` does both
 * in one call too; this shows the manual form.)
 *
 *   node --conditions=source --import tsx examples/express.ts     (PORT=3000 by default)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HubServer } from '@switchboard/server';
import express from 'express';
import { ChatHub, HUB_PATH, isMain, type RunningExample, runMain } from './chat-hub.ts';

export async function start(port = 0): Promise<RunningExample> {
  const hubs = new HubServer().mapHub(HUB_PATH, ChatHub);
  const app = express();
  app.use((req, res, next) => {
    if (!hubs.handleRequest(req, res)) next();
  });
  app.get('/health', (_req, res) => {
    res.type('text/plain').send('ok');
  });

  const server = createServer(app);
  server.on('upgrade', (req, socket, head) => {
    if (!hubs.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await hubs.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (isMain(import.meta.url)) await runMain(start);
