import type { HubMessage, HubProtocol } from '@switchboard/protocol';

/**
 * A hub message with its serialized bytes cached per protocol, so that a broadcast is serialized
 * once per protocol in use and never once per recipient (ASP.NET's SerializedHubMessage).
 */
export class SerializedHubMessage {
  /** The message to serialize. */
  readonly message: HubMessage;
  // The common case is one protocol; keep it out of the map.
  private firstProtocol: HubProtocol | undefined;
  private firstBytes: Buffer | undefined;
  private others: Map<HubProtocol, Buffer> | undefined;
  private failures: Map<HubProtocol, unknown> | undefined;

  constructor(message: HubMessage) {
    this.message = message;
  }

  /**
   * The message framed for `protocol`, serialized on first use. Throws the protocol's error when
   * the message cannot be serialized (a BigInt, a cycle), every time, without trying again.
   */
  getSerialized(protocol: HubProtocol): Buffer {
    if (this.firstProtocol === protocol) return this.firstBytes!;
    const failure = this.failures?.get(protocol);
    if (failure !== undefined) throw failure;
    if (this.firstProtocol === undefined) {
      const bytes = this.serialize(protocol);
      this.firstProtocol = protocol;
      this.firstBytes = bytes;
      return bytes;
    }
    this.others ??= new Map();
    let bytes = this.others.get(protocol);
    if (!bytes) {
      bytes = this.serialize(protocol);
      this.others.set(protocol, bytes);
    }
    return bytes;
  }

  /**
   * The error of the first protocol that failed to serialize the message, if one did: the sender's
   * fault (not a recipient's), which a lifetime manager reports to the sender.
   */
  get serializationError(): unknown {
    return this.failures?.values().next().value;
  }

  private serialize(protocol: HubProtocol): Buffer {
    try {
      return protocol.writeMessage(this.message);
    } catch (error) {
      const failure = error ?? new Error('The message could not be serialized.');
      this.failures ??= new Map();
      this.failures.set(protocol, failure);
      throw failure;
    }
  }

  /**
   * Stores bytes serialized elsewhere (a backplane carries them from another node) so that they are
   * written as they are.
   */
  setSerialized(protocol: HubProtocol, bytes: Buffer): void {
    if (this.firstProtocol === undefined || this.firstProtocol === protocol) {
      this.firstProtocol = protocol;
      this.firstBytes = bytes;
      return;
    }
    this.others ??= new Map();
    this.others.set(protocol, bytes);
  }
}
