// Switchboard peer, from the built dist (`npm run build` first). SWITCHBOARD_SERVER_ENTRY lets
// bench/compare.mjs point at another checkout's build.
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { serve } from './common.mjs';

const entry = process.env.SWITCHBOARD_SERVER_ENTRY;
const { HubServer, Hub } = await import(entry ? pathToFileURL(entry).href : '@switchboard/server');

class BenchHub extends Hub {
  echo(x) {
    return x;
  }
  async broadcast(x) {
    await this.clients.all.send('broadcast', x);
  }
  async joinGroup(g) {
    await this.groups.add(this.context.connectionId, g);
  }
  async sendToGroup(g, x) {
    await this.clients.group(g).send('broadcast', x);
  }
}

const hubs = new HubServer();
hubs.mapHub('/bench', BenchHub);
// No request listener of our own: the hub server answers negotiate and everything else.
const http = createServer();
hubs.attach(http);
serve(http, 'switchboard');
