// The soak's client population, all official @microsoft/signalr clients used as they are:
// - receivers that stay for the whole run (WebSockets with JSON and MessagePack, Server-Sent
//   Events, long polling) and check every broadcast: once each, in order, per broadcaster;
// - stateful receivers (WebSockets, `withStatefulReconnect`) behind a TCP proxy that the run cuts
//   now and then: they resume the same connection and must miss nothing either;
// - one broadcaster per node, sending numbered messages to every connection;
// - churners that connect, invoke, join and leave groups, send to a group, and leave, all the time;
// - echo probes from the receivers, whose round trips are the latency figures.
import { HttpTransportType } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { connectClient } from '@switchboard/testkit';

const TRANSPORTS = [
  ['ws-json', HttpTransportType.WebSockets, false],
  ['ws-msgpack', HttpTransportType.WebSockets, true],
  ['sse', HttpTransportType.ServerSentEvents, false],
  ['longpolling', HttpTransportType.LongPolling, false],
  ['longpolling-msgpack', HttpTransportType.LongPolling, true],
];

/** Starts a client on `baseUrl`'s test hub with one of {@link TRANSPORTS}. */
async function open(baseUrl, [, transport, msgpack], extra = {}) {
  return connectClient(`${baseUrl}/testhub`, {
    transport,
    ...(msgpack ? { protocol: new MessagePackHubProtocol() } : {}),
    ...extra,
  });
}

/**
 * A receiver that checks the numbered broadcasts: per broadcaster, each number once and in order.
 * Counts into `delivery` ({gaps, duplicates}).
 */
export class Receiver {
  constructor(name, delivery) {
    this.name = name;
    this.delivery = delivery;
    /** Last number seen per broadcaster. */
    this.last = new Map();
    this.connection = null;
    this.closedUnexpectedly = false;
  }

  /** Connects and starts checking. */
  async start(baseUrl, kind, extra = {}) {
    this.connection = await open(baseUrl, kind, extra);
    this.connection.on('Send', (m) => this.onBroadcast(m));
    this.connection.onclose((error) => {
      if (this.stopping) return;
      this.closedUnexpectedly = true;
      this.closeError = String(error?.message ?? error ?? 'closed without an error');
      this.closedAt = performance.now();
    });
    return this;
  }

  onBroadcast(m) {
    if (!m || typeof m !== 'object' || typeof m.b !== 'string') return; // a churner's group send
    const last = this.last.get(m.b) ?? 0; // receivers start before the broadcasters
    if (m.n === last + 1) this.last.set(m.b, m.n);
    else if (m.n <= last) this.delivery.duplicates++;
    else {
      this.delivery.gaps += m.n - last - 1;
      this.last.set(m.b, m.n);
    }
  }

  /** One echo round trip, in ms. */
  async probe() {
    const t0 = performance.now();
    await this.connection.invoke('Echo', 'probe');
    return performance.now() - t0;
  }

  async stop() {
    this.stopping = true;
    await this.connection?.stop().catch(() => undefined);
  }
}

/** Sends numbered broadcasts (`SendToAll`) from one node at a steady rate. */
export class Broadcaster {
  constructor(name, ratePerSecond) {
    this.name = name;
    this.rate = ratePerSecond;
    /** Numbers whose send the server acknowledged. */
    this.sent = 0;
    this.failed = 0;
  }

  async start(baseUrl) {
    this.connection = await open(baseUrl, TRANSPORTS[0]);
    this.timer = setInterval(() => this.sendOne(), 1000 / this.rate);
    return this;
  }

  sendOne() {
    if (this.inFlight) return; // numbers go out in order: one at a time
    this.inFlight = true;
    const n = this.sent + 1;
    this.connection
      .invoke('SendToAll', { b: this.name, n })
      .then(
        () => {
          this.sent = n;
        },
        () => {
          this.failed++;
        },
      )
      .finally(() => {
        this.inFlight = false;
      });
  }

  async stop() {
    clearInterval(this.timer);
    while (this.inFlight) await new Promise((r) => setTimeout(r, 10));
    await this.connection.stop().catch(() => undefined);
  }
}

/**
 * Keeps `concurrency` short-lived clients going: each connects to a random node with a random
 * transport (half of them signed in as one of 50 users), invokes Echo, joins a random group,
 * sends to it, leaves it, and stops after a short while.
 */
export class Churn {
  constructor(baseUrls, concurrency, tokenFor) {
    this.baseUrls = baseUrls;
    this.concurrency = concurrency;
    this.tokenFor = tokenFor;
    this.started = 0;
    this.completed = 0;
    this.failed = 0;
    this.errors = [];
    this.running = false;
    this.loops = [];
  }

  start() {
    this.running = true;
    for (let i = 0; i < this.concurrency; i++) this.loops.push(this.loop(i));
  }

  async loop(i) {
    while (this.running) {
      try {
        await this.once(i);
      } catch (error) {
        this.failed++;
        if (this.errors.length < 20) this.errors.push(String(error?.message ?? error));
      }
    }
  }

  async once(i) {
    const baseUrl = this.baseUrls[Math.floor(Math.random() * this.baseUrls.length)];
    const kind = TRANSPORTS[Math.floor(Math.random() * TRANSPORTS.length)];
    const user = Math.random() < 0.5 ? `u${Math.floor(Math.random() * 50)}` : null;
    const extra = user ? { accessTokenFactory: () => this.tokenFor(baseUrl, user) } : {};
    this.started++;
    const c = await open(baseUrl, kind, extra);
    try {
      const group = `g${(i + this.started) % 10}`;
      await c.invoke('Echo', 'hello');
      await c.invoke('JoinGroup', group);
      await c.invoke('SendToGroup', group, 'x'.repeat(64));
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 2000));
      await c.invoke('LeaveGroup', group);
    } finally {
      await c.stop();
    }
    this.completed++;
  }

  async stop() {
    this.running = false;
    await Promise.all(this.loops);
  }
}

export { TRANSPORTS };
