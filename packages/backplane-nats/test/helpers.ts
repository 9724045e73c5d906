// Test helpers: the machine's NATS (or a private nats-server), a unique prefix per run, buses with
// a receiver that records what arrives, and clean-up of the run's streams and buckets.
import { randomUUID } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import type { TestContext } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { BackplaneError, BusReceiver, Channel } from '@switchboard/server/scaleout';
import { requireService } from '../../testkit/src/services.ts';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** Skips (or, under CI=true, fails) when NATS is not running. */
export function requireNats(t: TestContext, url = NATS_URL): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return requireService(t, { kind: 'tcp', name: 'NATS', host: hostname, port: Number(port || 4222) });
}

/** A prefix no other test run uses. */
export function uniquePrefix(): string {
  return `sbtest:${randomUUID()}:`;
}

/** Deletes every stream (buckets are streams too) whose name holds `marker` (the prefix's hash part). */
export async function deleteStreams(url: string, match: (name: string) => boolean): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) if (match(name)) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

/** A bus receiver that records what it is handed. */
export class RecordingReceiver implements BusReceiver {
  readonly messages: { channel: Channel; payload: string }[] = [];
  readonly losses: { count: number; detail: string }[] = [];
  readonly errors: BackplaneError[] = [];
  reconnects = 0;
  resubscribes = 0;

  message(channel: Channel, payload: Uint8Array): void {
    this.messages.push({ channel, payload: Buffer.from(payload).toString() });
  }
  resubscribing(): void {
    this.resubscribes++;
  }
  reconnected(): void {
    this.reconnects++;
  }
  lost(_channel: Channel | undefined, count: number, detail: string): void {
    this.losses.push({ count, detail });
  }
  error(error: BackplaneError): void {
    this.errors.push(error);
  }
  payloads(): string[] {
    return this.messages.map((m) => m.payload);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `condition` holds; fails after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Whether NATS answers on its port (for files that must decide before registering tests). */
export function natsReachable(url = NATS_URL): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = netConnect({ host: hostname, port: Number(port || 4222) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
