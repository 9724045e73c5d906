// Switchboard peer, from the built dist (`npm run build` first). SWITCHBOARD_SERVER_ENTRY lets
// bench/compare.mjs point at another checkout's build.
//
//   --redis URL --prefix P --node-id N   one node of a cluster on Redis (RedisHubLifetimeManager)
//   --postgres URL --prefix P --node-id N one node of a cluster on PostgreSQL
//                                        (PostgresHubLifetimeManager; schema derived from P)
//   --nats URL --prefix P --node-id N     one node of a cluster on NATS JetStream (natsBackplane)
// A node reports ready once its backplane is (the manager's ready(): subscribed / listening).
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { serve } from './common.mjs';

const { values: opt } = parseArgs({
  options: {
    redis: { type: 'string' },
    postgres: { type: 'string' },
    nats: { type: 'string' },
    prefix: { type: 'string', default: 'bench:' },
    'node-id': { type: 'string' },
  },
});
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

let backplaneErrors = 0;
/** Backplane errors go to stderr (the first 10; a run with any is suspect). */
const onError = (e) => {
  if (++backplaneErrors <= 10)
    console.error(`switchboard ${opt['node-id'] ?? ''}: backplane: ${e.code} ${e.message}`);
};

async function lifetimeManagerFactory() {
  const node = { onError, ...(opt['node-id'] ? { nodeId: opt['node-id'] } : {}) };
  if (opt.redis) {
    const { RedisHubLifetimeManager } = await import('@switchboard/backplane-redis');
    return (path) =>
      new RedisHubLifetimeManager({ redis: opt.redis, hubName: path, prefix: opt.prefix, ...node });
  }
  if (opt.postgres) {
    const { PostgresHubLifetimeManager } = await import('@switchboard/backplane-postgres');
    return (path) =>
      new PostgresHubLifetimeManager({ pg: opt.postgres, hubName: path, prefix: opt.prefix, ...node });
  }
  return null;
}

const factory = await lifetimeManagerFactory();
const managers = [];
const backplane = opt.nats
  ? (await import('@switchboard/backplane-nats')).natsBackplane({
      url: opt.nats,
      prefix: opt.prefix,
      onError,
      ...(opt['node-id'] ? { nodeId: opt['node-id'] } : {}),
    })
  : undefined;
const hubs = new HubServer(
  backplane
    ? { backplane }
    : factory
      ? {
          lifetimeManagerFactory: (path) => {
            const m = factory(path);
            managers.push(m);
            return m;
          },
        }
      : {},
);
hubs.mapHub('/bench', BenchHub);
// A node reports ready once its backplane is (subscribed / listening).
for (const m of managers) await m.ready();
if (backplane) await hubs.ready();
// No request listener of our own: the hub server answers negotiate and everything else.
const http = createServer();
hubs.attach(http);
serve(
  http,
  opt.redis
    ? 'switchboard-redis'
    : opt.postgres
      ? 'switchboard-postgres'
      : opt.nats
        ? 'switchboard-nats'
        : 'switchboard',
);
