/**
 * {@link NatsUserGroupStore}: the scale-out core's user-group memberships in a NATS key-value
 * bucket (`safeName('sbug', prefix)`): one key per user (`<token of the scope>.<token of the
 * user>`), its value the JSON object group → expiry in milliseconds, updated by revision so that
 * two nodes never lose each other's change (the core's `DocumentUserGroupStore`). Expired
 * memberships are dropped on the next write.
 * @module
 */
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type ConnectionOptions, connect, type NatsConnection } from '@nats-io/transport-node';
import { DocumentUserGroupStore, type UserGroupDocument } from '@switchboard/server/scaleout';
import { connectionOptions } from './link.js';
import { safeName, token } from './names.js';

/** Options of a {@link NatsUserGroupStore}. */
export interface NatsUserGroupStoreOptions {
  /** The server URL(s), or connection options. Default `nats://127.0.0.1:4222`. */
  readonly servers?: string | readonly string[] | ConnectionOptions;
  /** The cluster's prefix (the backplane's). Default `switchboard:`. */
  readonly prefix?: string;
}

/** User-group memberships with their expiry in a NATS key-value bucket (see the module). */
export class NatsUserGroupStore extends DocumentUserGroupStore {
  readonly backend = 'nats';
  /** The bucket's name on the server. */
  readonly bucket: string;
  private nc: NatsConnection | undefined;
  private kv: KV | undefined;

  constructor(private readonly options: NatsUserGroupStoreOptions = {}) {
    super();
    this.bucket = safeName('sbug', options.prefix ?? 'switchboard:');
  }

  async start(): Promise<void> {
    this.nc = await connect({
      name: `switchboard user groups ${this.bucket}`,
      maxReconnectAttempts: -1,
      ...connectionOptions(this.options.servers ?? 'nats://127.0.0.1:4222'),
    });
    this.kv = await new Kvm(jetstream(this.nc)).create(this.bucket, { history: 1 });
  }

  async close(): Promise<void> {
    await this.nc?.close();
  }

  protected key(scope: string, user: string): string {
    return `${token(scope)}.${token(user)}`;
  }

  protected async read(key: string): Promise<UserGroupDocument> {
    const entry = await this.open().get(key);
    return { text: entry?.operation === 'PUT' ? entry.string() : undefined, revision: entry?.revision };
  }

  protected async write(key: string, text: string, revision: number | undefined): Promise<void> {
    if (revision === undefined) await this.open().create(key, text);
    else await this.open().update(key, text, revision);
  }

  protected conflict(error: unknown): boolean {
    return /wrong last sequence|key exists/i.test(String((error as Error)?.message));
  }

  protected async delete(key: string): Promise<void> {
    await this.open().delete(key);
  }

  private open(): KV {
    if (!this.kv) throw new Error('NATS: the user-group store is not started');
    return this.kv;
  }
}
