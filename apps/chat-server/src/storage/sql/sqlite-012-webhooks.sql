-- Migration 12 of the SQLite storage: the webhooks' outbox. Triggers write one row into
-- webhook_events in the same transaction as the change (a message stored, edited or deleted, a
-- member added or removed, a support request created, claimed or closed, a direct message or a
-- mention for someone), but only while an enabled endpoint exists. The dispatcher
-- (webhooks/dispatcher.ts) fans each event out into one webhook_deliveries row per enabled
-- endpoint and sends those, claiming them with a lease (lease_owner, lease_until_ms).
-- Times in *_ms columns are ms since the epoch.

CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,                   -- whsec_<base64>
  created_at TEXT NOT NULL,
  disabled_at TEXT,                       -- set when it failed for 24 hours
  failing_since_ms INTEGER                -- the first failure since its last success
);

CREATE TABLE webhook_events (
  id TEXT PRIMARY KEY,                    -- the webhook-id header (msg_<hex>), the same on every retry
  type TEXT NOT NULL,
  room_id TEXT,
  seq INTEGER,                            -- the room's sequence number at the event
  user_id TEXT,                           -- notification.offline: whom it is for
  data TEXT NOT NULL,                     -- JSON
  created_ms INTEGER NOT NULL,
  fanned INTEGER NOT NULL DEFAULT 0       -- deliveries made
);
CREATE INDEX webhook_events_unfanned ON webhook_events (created_ms) WHERE fanned = 0;
CREATE INDEX webhook_events_created ON webhook_events (created_ms);

CREATE TABLE webhook_deliveries (
  event_id TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
  endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  status TEXT NOT NULL DEFAULT 'pending', -- pending | delivered | failed | skipped
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_until_ms INTEGER,
  last_attempt_ms INTEGER,
  last_status INTEGER,                    -- the receiver's HTTP status
  last_error TEXT,
  done_ms INTEGER,
  PRIMARY KEY (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_ms);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, event_id);

CREATE TRIGGER webhook_message_created AFTER INSERT ON messages
WHEN EXISTS (SELECT 1 FROM webhook_endpoints WHERE disabled_at IS NULL)
BEGIN
  INSERT INTO webhook_events (id, type, room_id, seq, data, created_ms)
  VALUES ('msg_' || lower(hex(randomblob(16))), 'message.created', NEW.room_id, NEW.seq,
    json_object('roomId', NEW.room_id, 'seq', NEW.seq, 'message', json_object(
      'id', NEW.id, 'roomId', NEW.room_id, 'seq', NEW.seq, 'senderId', NEW.sender_id, 'text', NEW.text,
      'sentAt', NEW.sent_at, 'parentId', NEW.parent_id, 'clientMessageId', NEW.client_message_id)),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
  -- A direct message: a notice for each other member (sent only if they are offline).
  INSERT INTO webhook_events (id, type, room_id, seq, user_id, data, created_ms)
  SELECT 'msg_' || lower(hex(randomblob(16))), 'notification.offline', NEW.room_id, NEW.seq, m.user_id,
    json_object('roomId', NEW.room_id, 'seq', NEW.seq, 'userId', m.user_id, 'reason', 'direct',
      'message', json_object('id', NEW.id, 'roomId', NEW.room_id, 'seq', NEW.seq,
        'senderId', NEW.sender_id, 'text', NEW.text, 'sentAt', NEW.sent_at, 'parentId', NEW.parent_id)),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
  FROM room_members m JOIN rooms r ON r.id = m.room_id
  WHERE m.room_id = NEW.room_id AND r.kind = 'direct' AND m.user_id <> NEW.sender_id;
END;

-- A mention in a new message (not in a direct room, whose members get the notice above; mentions
-- an edit adds are not notified).
CREATE TRIGGER webhook_mention AFTER INSERT ON message_mentions
WHEN EXISTS (SELECT 1 FROM webhook_endpoints WHERE disabled_at IS NULL)
BEGIN
  INSERT INTO webhook_events (id, type, room_id, seq, user_id, data, created_ms)
  SELECT 'msg_' || lower(hex(randomblob(16))), 'notification.offline', msg.room_id, msg.seq, NEW.user_id,
    json_object('roomId', msg.room_id, 'seq', msg.seq, 'userId', NEW.user_id, 'reason', 'mention',
      'message', json_object('id', msg.id, 'roomId', msg.room_id, 'seq', msg.seq,
        'senderId', msg.sender_id, 'text', msg.text, 'sentAt', msg.sent_at, 'parentId', msg.parent_id)),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
  FROM messages msg JOIN rooms r ON r.id = msg.room_id
  WHERE msg.id = NEW.message_id AND msg.edited_at IS NULL AND r.kind <> 'direct'
    AND msg.sender_id <> NEW.user_id;
END;

-- Edits and deletions: on their entry in the room's change log (after the message row changed).
CREATE TRIGGER webhook_message_changed AFTER INSERT ON room_changes
WHEN NEW.kind IN ('edited', 'deleted') AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE disabled_at IS NULL)
BEGIN
  INSERT INTO webhook_events (id, type, room_id, seq, data, created_ms)
  SELECT 'msg_' || lower(hex(randomblob(16))),
    CASE NEW.kind WHEN 'edited' THEN 'message.updated' ELSE 'message.deleted' END,
    NEW.room_id, NEW.seq,
    json_object('roomId', NEW.room_id, 'seq', NEW.seq, 'changeSeq', NEW.change_seq, 'message',
      CASE NEW.kind WHEN 'edited' THEN json_object('id', msg.id, 'roomId', msg.room_id, 'seq', msg.seq,
          'senderId', msg.sender_id, 'text', msg.text, 'sentAt', msg.sent_at, 'editedAt', msg.edited_at,
          'parentId', msg.parent_id)
        ELSE json_object('id', msg.id, 'roomId', msg.room_id, 'seq', msg.seq, 'senderId', msg.sender_id,
          'deletedAt', NEW.at) END),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
  FROM messages msg WHERE msg.id = NEW.message_id;
END;

CREATE TRIGGER webhook_member_added AFTER INSERT ON room_members
WHEN EXISTS (SELECT 1 FROM webhook_endpoints WHERE disabled_at IS NULL)
BEGIN
  INSERT INTO webhook_events (id, type, room_id, seq, data, created_ms)
  SELECT 'msg_' || lower(hex(randomblob(16))), 'room.member_added', NEW.room_id, r.last_seq,
    json_object('roomId', NEW.room_id, 'seq', r.last_seq, 'userId', NEW.user_id, 'roomKind', r.kind,
      'joinedAt', NEW.joined_at),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
  FROM rooms r WHERE r.id = NEW.room_id;
END;

CREATE TRIGGER webhook_member_removed AFTER DELETE ON room_members
WHEN EXISTS (SELECT 1 FROM webhook_endpoints WHERE disabled_at IS NULL)
BEGIN
  INSERT INTO webhook_events (id, type, room_id, seq, data, created_ms)
  SELECT 'msg_' || lower(hex(randomblob(16))), 'room.member_removed', OLD.room_id, r.last_seq,
    json_object('roomId', OLD.room_id, 'seq', r.last_seq, 'userId', OLD.user_id, 'roomKind', r.kind),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
  FROM rooms r WHERE r.id = OLD.room_id;
END;

CREATE TRIGGER webhook_support_created AFTER INSERT ON support_requests
WHEN EXISTS (SELECT 1 FROM webhook_endpoints WHERE disabled_at IS NULL)
BEGIN
  INSERT INTO webhook_events (id, type, room_id, seq, data, created_ms)
  SELECT 'msg_' || lower(hex(randomblob(16))), 'support.request_created', NEW.room_id, (SELECT last_seq FROM rooms WHERE id = NEW.room_id),
    json_object('roomId', NEW.room_id, 'seq', (SELECT last_seq FROM rooms WHERE id = NEW.room_id), 'request', json_object('id', NEW.id,
      'customerId', NEW.customer_id, 'roomId', NEW.room_id, 'subject', NEW.subject, 'status', NEW.status,
      'agentId', NEW.agent_id, 'createdAt', NEW.created_at, 'updatedAt', NEW.updated_at,
      'closedAt', NEW.closed_at)),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER);
END;

CREATE TRIGGER webhook_support_changed AFTER UPDATE OF status ON support_requests
WHEN ((OLD.status = 'open' AND NEW.status = 'assigned') OR (OLD.status <> 'closed' AND NEW.status = 'closed'))
  AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE disabled_at IS NULL)
BEGIN
  INSERT INTO webhook_events (id, type, room_id, seq, data, created_ms)
  SELECT 'msg_' || lower(hex(randomblob(16))),
    CASE NEW.status WHEN 'closed' THEN 'support.request_closed' ELSE 'support.request_claimed' END,
    NEW.room_id, (SELECT last_seq FROM rooms WHERE id = NEW.room_id),
    json_object('roomId', NEW.room_id, 'seq', (SELECT last_seq FROM rooms WHERE id = NEW.room_id), 'request', json_object('id', NEW.id,
      'customerId', NEW.customer_id, 'roomId', NEW.room_id, 'subject', NEW.subject, 'status', NEW.status,
      'agentId', NEW.agent_id, 'createdAt', NEW.created_at, 'updatedAt', NEW.updated_at,
      'closedAt', NEW.closed_at)),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER);
END;
