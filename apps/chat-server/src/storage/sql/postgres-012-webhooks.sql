-- Migration 12 of the PostgreSQL storage: the webhooks' outbox. Triggers write one row into
-- webhook_events in the same transaction as the change (a message stored, edited or deleted, a
-- member added or removed, a support request created, claimed or closed, a direct message or a
-- mention for someone), but only while an enabled endpoint exists. The dispatcher
-- (webhooks/dispatcher.ts) fans each event out into one webhook_deliveries row per enabled
-- endpoint and sends those, claiming them with FOR UPDATE SKIP LOCKED and a lease.
-- Times in *_ms columns are ms since the epoch.

CREATE TABLE webhook_endpoints (
  id text PRIMARY KEY,
  url text NOT NULL,
  secret text NOT NULL,
  created_at timestamptz NOT NULL,
  disabled_at timestamptz,
  failing_since_ms bigint
);

CREATE TABLE webhook_events (
  id text PRIMARY KEY,
  type text NOT NULL,
  room_id text,
  seq integer,
  user_id text,
  data text NOT NULL,
  created_ms bigint NOT NULL,
  fanned boolean NOT NULL DEFAULT false
);
CREATE INDEX webhook_events_unfanned ON webhook_events (created_ms) WHERE NOT fanned;
CREATE INDEX webhook_events_created ON webhook_events (created_ms);

CREATE TABLE webhook_deliveries (
  event_id text NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
  endpoint_id text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending',
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_ms bigint NOT NULL DEFAULT 0,
  lease_owner text,
  lease_until_ms bigint,
  last_attempt_ms bigint,
  last_status integer,
  last_error text,
  done_ms bigint,
  PRIMARY KEY (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_ms);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, event_id);

CREATE FUNCTION webhook_iso(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Writes one event when an enabled endpoint exists.
CREATE FUNCTION webhook_enqueue(kind text, room text, room_seq integer, target text, payload jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM webhook_endpoints WHERE disabled_at IS NULL) THEN
    INSERT INTO webhook_events (id, type, room_id, seq, user_id, data, created_ms)
    VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), kind, room, room_seq, target, payload::text,
      floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint);
  END IF;
END $$;

CREATE FUNCTION webhook_message_json(m messages) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('id', m.id, 'roomId', m.room_id, 'seq', m.seq, 'senderId', m.sender_id,
    'text', m.text, 'sentAt', webhook_iso(m.sent_at), 'parentId', m.parent_id)
$$;

CREATE FUNCTION webhook_on_message() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE member record;
BEGIN
  PERFORM webhook_enqueue('message.created', NEW.room_id, NEW.seq, NULL, jsonb_build_object(
    'roomId', NEW.room_id, 'seq', NEW.seq,
    'message', webhook_message_json(NEW) || jsonb_build_object('clientMessageId', NEW.client_message_id)));
  FOR member IN SELECT m.user_id FROM room_members m JOIN rooms r ON r.id = m.room_id
    WHERE m.room_id = NEW.room_id AND r.kind = 'direct' AND m.user_id <> NEW.sender_id LOOP
    PERFORM webhook_enqueue('notification.offline', NEW.room_id, NEW.seq, member.user_id, jsonb_build_object(
      'roomId', NEW.room_id, 'seq', NEW.seq, 'userId', member.user_id, 'reason', 'direct',
      'message', webhook_message_json(NEW)));
  END LOOP;
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_message_created AFTER INSERT ON messages
  FOR EACH ROW EXECUTE FUNCTION webhook_on_message();

-- A mention in a new message (not in a direct room, whose members get the notice above; mentions
-- an edit adds are not notified).
CREATE FUNCTION webhook_on_mention() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE msg messages;
BEGIN
  SELECT * INTO msg FROM messages WHERE id = NEW.message_id;
  IF msg.id IS NULL OR msg.edited_at IS NOT NULL OR msg.sender_id = NEW.user_id
    OR (SELECT kind FROM rooms WHERE id = msg.room_id) = 'direct' THEN
    RETURN NULL;
  END IF;
  PERFORM webhook_enqueue('notification.offline', msg.room_id, msg.seq, NEW.user_id, jsonb_build_object(
    'roomId', msg.room_id, 'seq', msg.seq, 'userId', NEW.user_id, 'reason', 'mention',
    'message', webhook_message_json(msg)));
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_mention AFTER INSERT ON message_mentions
  FOR EACH ROW EXECUTE FUNCTION webhook_on_mention();

-- Edits and deletions: on their entry in the room's change log (after the message row changed).
CREATE FUNCTION webhook_on_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE msg messages;
BEGIN
  IF NEW.kind NOT IN ('edited', 'deleted') THEN RETURN NULL; END IF;
  SELECT * INTO msg FROM messages WHERE id = NEW.message_id;
  IF msg.id IS NULL THEN RETURN NULL; END IF;
  IF NEW.kind = 'edited' THEN
    PERFORM webhook_enqueue('message.updated', NEW.room_id, NEW.seq, NULL, jsonb_build_object(
      'roomId', NEW.room_id, 'seq', NEW.seq, 'changeSeq', NEW.change_seq,
      'message', webhook_message_json(msg) || jsonb_build_object('editedAt', webhook_iso(msg.edited_at))));
  ELSE
    PERFORM webhook_enqueue('message.deleted', NEW.room_id, NEW.seq, NULL, jsonb_build_object(
      'roomId', NEW.room_id, 'seq', NEW.seq, 'changeSeq', NEW.change_seq,
      'message', jsonb_build_object('id', msg.id, 'roomId', msg.room_id, 'seq', msg.seq,
        'senderId', msg.sender_id, 'deletedAt', webhook_iso(NEW.at))));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_message_changed AFTER INSERT ON room_changes
  FOR EACH ROW EXECUTE FUNCTION webhook_on_change();

CREATE FUNCTION webhook_on_member() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r rooms;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT * INTO r FROM rooms WHERE id = NEW.room_id;
    PERFORM webhook_enqueue('room.member_added', NEW.room_id, r.last_seq, NULL, jsonb_build_object(
      'roomId', NEW.room_id, 'seq', r.last_seq, 'userId', NEW.user_id, 'roomKind', r.kind,
      'joinedAt', webhook_iso(NEW.joined_at)));
  ELSE
    SELECT * INTO r FROM rooms WHERE id = OLD.room_id;
    PERFORM webhook_enqueue('room.member_removed', OLD.room_id, r.last_seq, NULL, jsonb_build_object(
      'roomId', OLD.room_id, 'seq', r.last_seq, 'userId', OLD.user_id, 'roomKind', r.kind));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_member_changed AFTER INSERT OR DELETE ON room_members
  FOR EACH ROW EXECUTE FUNCTION webhook_on_member();

CREATE FUNCTION webhook_on_support() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE kind text; room_seq integer;
BEGIN
  IF TG_OP = 'INSERT' THEN kind := 'support.request_created';
  ELSIF OLD.status = 'open' AND NEW.status = 'assigned' THEN kind := 'support.request_claimed';
  ELSIF OLD.status <> 'closed' AND NEW.status = 'closed' THEN kind := 'support.request_closed';
  ELSE RETURN NULL;
  END IF;
  SELECT last_seq INTO room_seq FROM rooms WHERE id = NEW.room_id;
  PERFORM webhook_enqueue(kind, NEW.room_id, room_seq, NULL, jsonb_build_object(
    'roomId', NEW.room_id, 'seq', room_seq, 'request', jsonb_build_object('id', NEW.id,
      'customerId', NEW.customer_id, 'roomId', NEW.room_id, 'subject', NEW.subject, 'status', NEW.status,
      'agentId', NEW.agent_id, 'createdAt', webhook_iso(NEW.created_at),
      'updatedAt', webhook_iso(NEW.updated_at), 'closedAt', webhook_iso(NEW.closed_at))));
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_support_changed AFTER INSERT OR UPDATE OF status ON support_requests
  FOR EACH ROW EXECUTE FUNCTION webhook_on_support();
