/**
 * The cluster secret's two uses in forwarding (docs/scale-out.md#no-sticky-sessions): connection
 * tokens that name their owner node, signed so that nobody can make a node forward to an address
 * of their choosing, and the signature of a hop between nodes.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Where a connection lives, as its token names it. */
export interface TokenOwner {
  /** The owner's node id. */
  readonly nodeId: string;
  /** The owner's advertised base URL (`http://host:port`), which peers forward to. */
  readonly url: string;
}

/** The prefix of an owner-naming token: a version, so that the format may change. */
const TOKEN_VERSION = 'c1';
/** Signature bytes kept in a token (128 bits). */
const MAC_BYTES = 16;
/** How far a hop's timestamp may be from this node's clock. */
export const HOP_MAX_SKEW_MS = 60_000;
/** The header a forwarded request carries: `<node id, base64url>.<time ms>.<signature>`. */
export const HOP_HEADER = 'x-switchboard-hop';

/** The outcome of checking a request's hop header. */
export type HopCheck =
  | { readonly kind: 'none' }
  | { readonly kind: 'valid'; readonly from: string }
  | { readonly kind: 'invalid' };

/**
 * Signs and reads owner tokens and hop headers with keys derived from the cluster secret (one key
 * per use, so a signature of one kind is never valid as the other, and neither as a JWT).
 */
export class ClusterKeys {
  private readonly tokenKey: Buffer;
  private readonly hopKey: Buffer;

  constructor(secret: string | Uint8Array) {
    this.tokenKey = derive(secret, 'switchboard connection token v1');
    this.hopKey = derive(secret, 'switchboard forwarding hop v1');
  }

  /** A token for a connection owned by `owner`: `c1.<random>.<owner>.<signature>`, URL-safe. */
  mint(random: string, owner: TokenOwner): string {
    const body = `${TOKEN_VERSION}.${random}.${Buffer.from(`${owner.nodeId}\n${owner.url}`, 'utf8').toString('base64url')}`;
    return `${body}.${this.mac(this.tokenKey, body)}`;
  }

  /** The owner a token names when its signature is this cluster's; undefined for any other token. */
  read(token: string): TokenOwner | undefined {
    if (!token.startsWith(`${TOKEN_VERSION}.`)) return undefined;
    const cut = token.lastIndexOf('.');
    const body = token.slice(0, cut);
    const parts = body.split('.');
    if (parts.length !== 3 || !this.verify(this.tokenKey, body, token.slice(cut + 1))) return undefined;
    const owner = Buffer.from(parts[2]!, 'base64url').toString('utf8');
    const newline = owner.indexOf('\n');
    if (newline < 0) return undefined;
    return { nodeId: owner.slice(0, newline), url: owner.slice(newline + 1) };
  }

  /** The hop header for a request `method url` forwarded by node `from` at `now`. */
  signHop(from: string, method: string, url: string, now: number): string {
    const body = `${Buffer.from(from, 'utf8').toString('base64url')}.${now}`;
    return `${body}.${this.mac(this.hopKey, `${body}\n${method}\n${url}`)}`;
  }

  /** Checks the hop header of a request (absent, or signed by a peer within the allowed skew). */
  checkHop(header: string | string[] | undefined, method: string, url: string, now: number): HopCheck {
    if (header === undefined) return { kind: 'none' };
    if (typeof header !== 'string') return { kind: 'invalid' };
    const parts = header.split('.');
    if (parts.length !== 3) return { kind: 'invalid' };
    const [from, at, signature] = parts as [string, string, string];
    const time = Number(at);
    if (!/^\d+$/.test(at) || Math.abs(now - time) > HOP_MAX_SKEW_MS) return { kind: 'invalid' };
    if (!this.verify(this.hopKey, `${from}.${at}\n${method}\n${url}`, signature)) return { kind: 'invalid' };
    return { kind: 'valid', from: Buffer.from(from, 'base64url').toString('utf8') };
  }

  private mac(key: Buffer, text: string): string {
    return createHmac('sha256', key).update(text).digest().subarray(0, MAC_BYTES).toString('base64url');
  }

  private verify(key: Buffer, text: string, signature: string): boolean {
    const expected = Buffer.from(this.mac(key, text), 'utf8');
    const given = Buffer.from(signature, 'utf8');
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

function derive(secret: string | Uint8Array, purpose: string): Buffer {
  return createHmac('sha256', typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret)
    .update(purpose)
    .digest();
}
