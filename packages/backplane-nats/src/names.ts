/**
 * Names on the NATS server: stream and bucket names, and subjects. A cluster's prefix and a hub's
 * path may hold characters that subjects and stream names do not allow (`.`, `*`, `>`, spaces,
 * `/`), and channel names hold anything a group name may: every such part is encoded.
 * @module
 */
import { createHash } from 'node:crypto';
import type { Channel } from '@switchboard/server/scaleout';

/**
 * A subject token for any text: base64url (letters, digits, `-`, `_`), `_` for the empty text, so
 * that two texts never share a token and no token holds `.`, `*`, `>` or a space.
 */
export function token(text: string): string {
  return text === '' ? '_' : Buffer.from(text, 'utf8').toString('base64url');
}

/** The text of a {@link token}. */
export function untoken(value: string): string {
  return value === '_' ? '' : Buffer.from(value, 'base64url').toString('utf8');
}

/**
 * A readable name for streams and buckets from a prefix (and more parts): the letters and digits
 * kept, the rest as `_`, and a short hash of the exact text so that prefixes that read alike stay
 * apart. Stream names allow no `.`, `*`, `>`, spaces or path separators; these hold none.
 */
export function safeName(...parts: string[]): string {
  const text = parts.join('\u0000');
  const readable = parts
    .join('_')
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 48);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 10);
  return `${readable || 'sb'}_${hash}`;
}

/** The names of one hub's bus on the server. */
export interface HubNames {
  /** The stream that holds the hub's replay log. */
  readonly stream: string;
  /** The subject every channel of the hub lies under (`<root>.>` is the stream's subject). */
  readonly root: string;
}

/** The stream and subject root of a hub of the cluster with `prefix`. */
export function hubNames(prefix: string, hubName: string): HubNames {
  const name = safeName('sb', prefix, hubName);
  return { stream: name, root: `sb.${name}` };
}

/** The subject of a channel's messages: `<root>.<kind>.<token of the name>` (`<root>.all`). */
export function channelSubject(root: string, channel: Channel): string {
  switch (channel.kind) {
    case 'all':
      return `${root}.all`;
    case 'group':
      return `${root}.group.${token(channel.name)}`;
    default:
      return `${root}.${channel.kind}.${token(channel.id)}`;
  }
}

/**
 * The channel of a subject under `root` (the inverse of {@link channelSubject}), as its channel
 * name (`all`, `group:<name>` …); undefined for a subject that is not a channel's.
 */
export function subjectChannelName(root: string, subject: string): string | undefined {
  if (!subject.startsWith(`${root}.`)) return undefined;
  const rest = subject.slice(root.length + 1);
  if (rest === 'all') return 'all';
  const dot = rest.indexOf('.');
  if (dot < 0) return undefined;
  const kind = rest.slice(0, dot);
  if (kind !== 'group' && kind !== 'user' && kind !== 'connection' && kind !== 'node') return undefined;
  return `${kind}:${untoken(rest.slice(dot + 1))}`;
}

/**
 * The core-NATS subject on which the node that holds a connection answers "held here": a
 * publish to a connection's channel asks it to tell 0 receivers (no responders) from 1.
 */
export function holderSubject(root: string, connectionId: string): string {
  return `_sbholder.${root.slice(3)}.${token(connectionId)}`;
}
