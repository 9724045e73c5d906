/**
 * The admin view's wire shapes: what `watchAdminStats` answers and the `adminStats` event carries
 * on the hub, and what `GET /api/v1/admin/stats` answers (the same JSON).
 * @module
 */

/** The transports a hub connection can run on. */
export type AdminTransport = 'WebSockets' | 'ServerSentEvents' | 'LongPolling';

/** The connections one node holds. */
export interface AdminConnectionStats {
  /** Every connection, negotiated or running. */
  readonly total: number;
  /** Negotiated and not (yet) taken by a transport request. */
  readonly pending: number;
  /** Running connections by transport. */
  readonly byTransport: Readonly<Record<AdminTransport, number>>;
}

/** One node's backplane: whether it is up, and its counters summed over the node's hubs. */
export interface AdminBackplaneStats {
  /** The backend (`redis`, `postgres`, `nats`, `inbox` …). */
  readonly backend: string;
  /** Started, and every hub's bus connected. */
  readonly ready: boolean;
  /** Publishes waiting for the backend now. */
  readonly queued: number;
  readonly published: number;
  readonly messagesReceived: number;
  readonly bytesReceived: number;
  readonly replayed: number;
  readonly duplicatesDropped: number;
  readonly lost: number;
  readonly reconnects: number;
  readonly errors: number;
  readonly queueOverflows: number;
}

/** The backplane lag as this node measured it (its lag probe). */
export interface AdminLagStats {
  /** The delay of the last probe from each other node, in milliseconds, by node id. */
  readonly lastMs: Readonly<Record<string, number>>;
  /** Probes received from other nodes since the node started. */
  readonly probesReceived: number;
}

/**
 * Webhook deliveries of one node. `configured: false` (and zeros) while the node has no webhooks
 * to deliver.
 */
export interface AdminWebhookStats {
  readonly configured: boolean;
  /** Deliveries the receiver accepted. */
  readonly delivered: number;
  /** Deliveries that failed for good. */
  readonly failed: number;
  /** Deliveries waiting (queued or retrying). */
  readonly pending: number;
}

/** Refusals of hub calls on one node, by chat error code (as `/metrics` counts them). */
export interface AdminErrorStats {
  readonly total: number;
  readonly byCode: Readonly<Record<string, number>>;
}

/** One node's snapshot. */
export interface AdminNodeStats {
  readonly nodeId: string;
  /** When the node took it (ISO 8601). */
  readonly collectedAt: string;
  readonly connections: AdminConnectionStats;
  /** Distinct users with a connection on this node. */
  readonly usersOnline: number;
  /** Null on a single node without a backplane. */
  readonly backplane: AdminBackplaneStats | null;
  /** Null when the node runs no lag probe (no backplane, or `BACKPLANE_LAG_PROBE_MS=0`). */
  readonly lag: AdminLagStats | null;
  readonly errors: AdminErrorStats;
  readonly webhooks: AdminWebhookStats;
  /** Messages this node stored since it started. */
  readonly messagesStored: number;
}

/** A room with its members and how many of them are connected (anywhere in the cluster). */
export interface AdminRoomStats {
  readonly id: string;
  readonly name: string;
  readonly kind: 'room' | 'direct' | 'support';
  readonly isPrivate: boolean;
  /** Members. */
  readonly members: number;
  /** Members with at least one connection. */
  readonly connectedMembers: number;
  /** Connections in the room's group. */
  readonly connections: number;
}

/** The whole cluster: every node that answered, and the cluster-wide numbers. */
export interface AdminStats {
  /** When the answering node put it together (ISO 8601). */
  readonly collectedAt: string;
  /** The node that answered. */
  readonly nodeId: string;
  /** Every node that answered, by node id. */
  readonly nodes: readonly AdminNodeStats[];
  /** Connections summed over the nodes. */
  readonly connections: number;
  /** Distinct users online in the cluster (presence). */
  readonly usersOnline: number;
  /** The rooms with the most members first (at most `roomsLimit`). */
  readonly rooms: readonly AdminRoomStats[];
  /** How many rooms exist. */
  readonly roomsTotal: number;
}
