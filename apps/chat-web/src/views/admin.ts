/**
 * The admin view (`#/admin`, admins only): every node of the cluster with its connections by
 * transport, users, backplane counters and lag, refusals by error code and webhook deliveries,
 * then the rooms with their member and connection counts. It watches the hub
 * (`watchAdminStats`) and re-renders on each `adminStats` the server pushes; nothing is polled.
 * After a reconnect it watches again (a new connection is in no group).
 * @module
 */
import type { AdminNodeStats, AdminRoomStats, AdminStats } from '@switchboard/chat-contract';
import type { Chat } from '../chat.ts';
import { h, replaceChildren } from '../dom.ts';
import './admin.css';

/** The address of the admin view. */
export const ADMIN_HASH = '#/admin';

/** Whether the address names the admin view. */
export function isAdminRoute(hash: string = location.hash): boolean {
  return hash === ADMIN_HASH || hash === `${ADMIN_HASH}/`;
}

/** Whether the signed-in user may see the admin view. */
export function isAdmin(chat: Chat): boolean {
  return chat.me.role === 'admin';
}

/** The header's link to the admin view (for admins; null for everyone else). */
export function adminLink(chat: Chat): HTMLAnchorElement | null {
  if (!isAdmin(chat)) return null;
  return h('a', { href: ADMIN_HASH, class: 'admin-link', 'data-testid': 'admin-link' }, 'Admin');
}

const number = new Intl.NumberFormat();

/** Creates the admin view; `dispose` stops watching. */
export function createAdminView(chat: Chat): { element: HTMLElement; dispose(): void } {
  const summary = h('p', { class: 'admin-summary', 'data-testid': 'admin-summary' }, 'Loading…');
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'admin-error' });
  const nodes = h('div', { class: 'admin-nodes', 'data-testid': 'admin-nodes' });
  const rooms = h('div', { class: 'admin-rooms', 'data-testid': 'admin-rooms' });
  const updated = h('p', { class: 'muted', 'data-testid': 'admin-updated' });
  const element = h(
    'section',
    { class: 'admin', 'data-testid': 'admin-view', 'aria-labelledby': 'admin-title', tabindex: 0 },
    h('h1', { id: 'admin-title' }, 'Admin'),
    summary,
    error,
    h('h2', {}, 'Nodes'),
    nodes,
    h('h2', {}, 'Rooms'),
    rooms,
    updated,
  );

  let disposed = false;
  const render = (stats: AdminStats) => {
    if (disposed) return;
    error.textContent = '';
    summary.textContent =
      `${plural(stats.nodes.length, 'node')} · ${plural(stats.connections, 'connection')} · ` +
      `${plural(stats.usersOnline, 'user')} online · ${plural(stats.roomsTotal, 'room')}`;
    replaceChildren(
      nodes,
      stats.nodes.map((node) => nodeCard(node)),
    );
    replaceChildren(rooms, [roomTable(stats.rooms, stats.roomsTotal)]);
    const at = new Date(stats.collectedAt);
    updated.textContent = `Updated ${Number.isNaN(at.getTime()) ? '' : at.toLocaleTimeString()} by ${stats.nodeId}`;
    element.dataset.collectedAt = stats.collectedAt;
  };
  const hub = chat.link.hub;
  const onStats = (stats: AdminStats) => render(stats);
  hub.on('adminStats', onStats);
  const watch = async () => {
    try {
      render(await chat.link.invoke<AdminStats>('watchAdminStats'));
    } catch (e) {
      if (!disposed) error.textContent = `The admin view is not available: ${messageOf(e)}`;
    }
  };
  let wasConnected = chat.linkState === 'connected';
  const offLink = chat.on('link', () => {
    const connected = chat.linkState === 'connected';
    if (connected && !wasConnected) void watch();
    wasConnected = connected;
  });
  if (wasConnected) void watch();
  return {
    element,
    dispose() {
      disposed = true;
      offLink();
      hub.off('adminStats', onStats);
      if (chat.linkState === 'connected') void chat.link.invoke('unwatchAdminStats').catch(() => undefined);
    },
  };
}

function plural(n: number, word: string): string {
  return `${number.format(n)} ${word}${n === 1 ? '' : 's'}`;
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/^.*HubException: /, '');
}

/** A term and its value in a node's card. */
function stat(label: string, value: string | number, testId?: string): HTMLElement[] {
  return [
    h('dt', {}, label),
    h(
      'dd',
      testId ? { 'data-testid': testId } : {},
      typeof value === 'number' ? number.format(value) : value,
    ),
  ];
}

function nodeCard(node: AdminNodeStats): HTMLElement {
  const t = node.connections.byTransport;
  const backplane = node.backplane;
  const lag = node.lag ? Object.entries(node.lag.lastMs) : [];
  const errors = Object.entries(node.errors.byCode).sort((a, b) => b[1] - a[1]);
  const webhooks = node.webhooks.configured
    ? `${number.format(node.webhooks.delivered)} delivered, ${number.format(node.webhooks.failed)} failed, ${number.format(node.webhooks.pending)} pending`
    : 'not configured';
  return h(
    'article',
    {
      class: 'admin-node',
      'data-testid': 'admin-node',
      'data-node-id': node.nodeId,
      'aria-label': `Node ${node.nodeId}`,
    },
    h('h3', {}, node.nodeId),
    h(
      'dl',
      {},
      ...stat('Connections', node.connections.total, 'admin-node-connections'),
      ...stat('WebSockets', t.WebSockets, 'admin-node-websockets'),
      ...stat('Server-Sent Events', t.ServerSentEvents, 'admin-node-sse'),
      ...stat('Long polling', t.LongPolling, 'admin-node-longpolling'),
      ...(node.connections.pending > 0 ? stat('Negotiating', node.connections.pending) : []),
      ...stat('Users', node.usersOnline, 'admin-node-users'),
      ...stat(
        'Backplane',
        backplane ? `${backplane.backend}, ${backplane.ready ? 'ready' : 'not ready'}` : 'none (single node)',
        'admin-node-backplane',
      ),
      ...(backplane
        ? [
            ...stat('Published', backplane.published),
            ...stat('Received', backplane.messagesReceived),
            ...stat('Queued', backplane.queued),
            ...stat(
              'Replayed / lost',
              `${number.format(backplane.replayed)} / ${number.format(backplane.lost)}`,
            ),
            ...stat(
              'Reconnects / errors',
              `${number.format(backplane.reconnects)} / ${number.format(backplane.errors)}`,
            ),
          ]
        : []),
      ...(node.lag
        ? stat(
            'Lag',
            lag.length === 0
              ? 'no probe yet'
              : lag.map(([from, ms]) => `${Math.round(ms)} ms from ${from}`).join(', '),
            'admin-node-lag',
          )
        : []),
      ...stat(
        'Errors',
        node.errors.total === 0
          ? '0'
          : `${number.format(node.errors.total)} (${errors.map(([code, n]) => `${code} ${n}`).join(', ')})`,
        'admin-node-errors',
      ),
      ...stat('Webhooks', webhooks, 'admin-node-webhooks'),
      ...stat('Messages stored', node.messagesStored),
    ),
  );
}

function roomTable(rooms: readonly AdminRoomStats[], total: number): HTMLElement {
  if (rooms.length === 0) return h('p', { class: 'muted' }, 'No rooms yet.');
  return h(
    'div',
    { class: 'admin-table-wrap' },
    h(
      'table',
      { class: 'admin-table' },
      h(
        'caption',
        { class: 'muted' },
        rooms.length < total ? `The ${rooms.length} largest of ${total} rooms` : `${total} rooms`,
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Room'),
          h('th', { scope: 'col' }, 'Members'),
          h('th', { scope: 'col' }, 'Online'),
          h('th', { scope: 'col' }, 'Connections'),
        ),
      ),
      h(
        'tbody',
        {},
        ...rooms.map((room) =>
          h(
            'tr',
            { 'data-testid': 'admin-room', 'data-room-id': room.id },
            h('th', { scope: 'row' }, roomLabel(room)),
            h('td', { 'data-testid': 'admin-room-members' }, number.format(room.members)),
            h('td', { 'data-testid': 'admin-room-online' }, number.format(room.connectedMembers)),
            h('td', { 'data-testid': 'admin-room-connections' }, number.format(room.connections)),
          ),
        ),
      ),
    ),
  );
}

function roomLabel(room: AdminRoomStats): string {
  if (room.kind === 'direct') return 'Direct conversation';
  if (room.kind === 'support') return `Support: ${room.name}`;
  return room.isPrivate ? `${room.name} (private)` : room.name;
}
