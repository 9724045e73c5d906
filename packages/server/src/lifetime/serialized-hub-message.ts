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

  constructor(message: HubMessage) {
    this.message = message;
  }

  /** The message framed for `protocol`, serialized on first use. */
  getSerialized(protocol: HubProtocol): Buffer {
    if (this.firstProtocol === protocol) return this.firstBytes!;
    if (this.firstProtocol === undefined) {
      this.firstProtocol = protocol;
      this.firstBytes = protocol.writeMessage(this.message);
      return this.firstBytes;
    }
    this.others ??= new Map();
    let bytes = this.others.get(protocol);
    if (!bytes) {
      bytes = protocol.writeMessage(this.message);
      this.others.set(protocol, bytes);
    }
    return bytes;
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
