/**
 * {@link NatsUserGroupStore}: the scale-out core's user-group memberships in a NATS key-value
 * bucket (`safeName('sbug', prefix)`): one key per user (`<token of the scope>.<token of the
 * user>`), its value the JSON object group → expiry in milliseconds, updated by revision so that
 * two nodes never lose each other's change. Expired memberships are dropped on the next write.
 * @module
 */
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type ConnectionOptions, connect, type NatsConnection } from '@nats-io/transport-node';
import type { UserGroupMemberships, UserGroupStore } from '@switchboard/server/scaleout';
import { safeName, token } from './names.js';

/** Options of a {@link NatsUserGroupStore}. */
export interface NatsUserGroupStoreOptions {
  /** The server URL(s), or connection options. Default `nats://127.0.0.1:4222`. */
  readonly servers?: string | readonly string[] | ConnectionOptions;
  /** The cluster's prefix (the backplane's). Default `switchboard:`. */
  readonly prefix?: string;
}

/** Writes by revision give up after this many lost races in a row. */
const MAX_ATTEMPTS = 20;

type Document = Record<string, number>;

/** User-group memberships with their expiry in a NATS key-value bucket (see the module). */
export class NatsUserGroupStore implements UserGroupStore {
  readonly backend = 'nats';
  /** The bucket's name on the server. */
  readonly bucket: string;
  private nc: NatsConnection | undefined;
  private kv: KV | undefined;

  constructor(private readonly options: NatsUserGroupStoreOptions = {}) {
    this.bucket = safeName('sbug', options.prefix ?? 'switchboard:');
  }

  async start(): Promise<void> {
    const servers = this.options.servers ?? 'nats://127.0.0.1:4222';
    const base: ConnectionOptions =
      typeof servers === 'string' || Array.isArray(servers)
        ? { servers: servers as string | string[] }
        : (servers as ConnectionOptions);
    this.nc = await connect({
      name: `switchboard user groups ${this.bucket}`,
      maxReconnectAttempts: -1,
      ...base,
    });
    this.kv = await new Kvm(jetstream(this.nc)).create(this.bucket, { history: 1 });
  }

  async add(scope: string, user: string, group: string, expiresAt: number): Promise<void> {
    await this.update(scope, user, (doc) => {
      doc[group] = expiresAt;
    });
  }

  async remove(scope: string, user: string, group: string): Promise<boolean> {
    let current = false;
    await this.update(scope, user, (doc) => {
      current = (doc[group] ?? 0) > Date.now();
      delete doc[group];
    });
    return current;
  }

  async removeAll(scope: string, user: string): Promise<void> {
    await this.open().delete(this.key(scope, user));
  }

  async groups(scope: string, user: string, now = Date.now()): Promise<UserGroupMemberships> {
    const { doc } = await this.read(scope, user);
    return new Map(Object.entries(doc).filter(([, expiresAt]) => expiresAt > now));
  }

  async has(scope: string, user: string, group: string, now = Date.now()): Promise<boolean> {
    const { doc } = await this.read(scope, user);
    return (doc[group] ?? 0) > now;
  }

  async close(): Promise<void> {
    await this.nc?.close();
  }

  private open(): KV {
    if (!this.kv) throw new Error('NATS: the user-group store is not started');
    return this.kv;
  }

  private key(scope: string, user: string): string {
    return `${token(scope)}.${token(user)}`;
  }

  private async read(scope: string, user: string): Promise<{ doc: Document; revision: number | undefined }> {
    const entry = await this.open().get(this.key(scope, user));
    if (!entry || entry.operation !== 'PUT') return { doc: {}, revision: entry?.revision };
    return { doc: JSON.parse(entry.string()) as Document, revision: entry.revision };
  }

  /** Changes the user's document by revision (again on a lost race); drops expired memberships. */
  private async update(scope: string, user: string, change: (doc: Document) => void): Promise<void> {
    const kv = this.open();
    const key = this.key(scope, user);
    for (let attempt = 1; ; attempt++) {
      const { doc, revision } = await this.read(scope, user);
      change(doc);
      const now = Date.now();
      for (const [group, expiresAt] of Object.entries(doc)) if (expiresAt <= now) delete doc[group];
      const text = JSON.stringify(doc);
      try {
        if (revision === undefined) await kv.create(key, text);
        else await kv.update(key, text, revision);
        return;
      } catch (error) {
        const message = String((error as Error)?.message);
        if (/wrong last sequence|key exists/i.test(message) && attempt < MAX_ATTEMPTS) continue;
        throw error;
      }
    }
  }
}
