-- The bus of the PostgreSQL backplane. Run with search_path set to the cluster's schema; the
-- functions keep it (SET search_path FROM CURRENT), so they find their tables whoever calls them.
--
-- bus_messages is the replay log: its id is the log order. Ids are taken under one advisory lock
-- per schema that is held until the writing transaction commits (bus_publish), so transactions
-- commit in id order: a reader that sees id n sees every id below n. Nothing is skipped.
CREATE TABLE bus_messages (
  id bigint PRIMARY KEY,
  hub text NOT NULL,
  -- What readers select on: 'a' (all), 'g:<group>', 'u:<user>', 'n:<node>' (a node's inbox).
  channel text NOT NULL,
  -- What the sender addressed: the channel, or 'c:<connection id>' for a send to one connection,
  -- which bus_publish routes to the inbox of the node that holds the connection.
  target text NOT NULL,
  origin text NOT NULL,
  -- Connection ids the send excludes (sendAllExcept, sendGroupExcept); NULL when none.
  excluded text[],
  -- The envelope: the message serialized once per protocol.
  payload bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE SEQUENCE bus_messages_id_seq OWNED BY bus_messages.id;
CREATE INDEX bus_messages_read ON bus_messages (hub, channel, id);
CREATE INDEX bus_messages_created ON bus_messages (created_at);

-- Which node holds which connection (per hub): sends to one connection go to that node's inbox.
CREATE TABLE bus_connections (
  hub text NOT NULL,
  connection_id text NOT NULL,
  node_id text NOT NULL,
  PRIMARY KEY (hub, connection_id)
);
CREATE INDEX bus_connections_node ON bus_connections (hub, node_id);

-- The highest id the clean-up deleted: a reader behind it has lost rows.
CREATE TABLE bus_state (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  trimmed_to bigint NOT NULL DEFAULT 0
);
INSERT INTO bus_state DEFAULT VALUES;

-- Appends sends in order, in the caller's transaction, and wakes the readers. Element i of the
-- arrays is one send; p_excluded[i] is the excluded connection ids joined by E'\x1f' ('' for
-- none). A target 'c:<id>' goes to the inbox of the node holding connection <id>, or nowhere when
-- no node holds it. Two targets change the routes instead of writing a message: '+c:<id>' (the
-- origin node now holds connection <id>) and '-c:<id>' (it no longer does); they travel in the same
-- ordered batches as the sends. Returns, per element, 1 when it was written and 0 when it was not
-- (no holder).
-- p_notify is the NOTIFY channel; the payload names the hub, the origin node and the channel as a
-- JSON array (text whatever the names hold), or is '*' when that is too long for a notification.
CREATE FUNCTION bus_publish(
  p_notify text,
  p_hub text,
  p_origin text,
  p_targets text[],
  p_excluded text[],
  p_payloads bytea[]
) RETURNS int[]
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  written int[] := '{}';
  channel text;
  node text;
  wake text;
  woken text[] := '{}';
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(p_notify));
  FOR i IN 1 .. coalesce(array_length(p_targets, 1), 0) LOOP
    channel := p_targets[i];
    IF left(channel, 3) = '+c:' THEN
      INSERT INTO bus_connections (hub, connection_id, node_id)
        VALUES (p_hub, substr(channel, 4), p_origin)
        ON CONFLICT (hub, connection_id) DO UPDATE SET node_id = EXCLUDED.node_id;
      written := written || 1;
      CONTINUE;
    ELSIF left(channel, 3) = '-c:' THEN
      DELETE FROM bus_connections
        WHERE hub = p_hub AND connection_id = substr(channel, 4) AND node_id = p_origin;
      written := written || 1;
      CONTINUE;
    ELSIF left(channel, 2) = 'c:' THEN
      SELECT c.node_id INTO node FROM bus_connections c
        WHERE c.hub = p_hub AND c.connection_id = substr(p_targets[i], 3);
      IF node IS NULL THEN
        written := written || 0;
        CONTINUE;
      END IF;
      channel := 'n:' || node;
    END IF;
    INSERT INTO bus_messages (id, hub, channel, target, origin, excluded, payload)
      VALUES (
        nextval('bus_messages_id_seq'), p_hub, channel, p_targets[i], p_origin,
        CASE WHEN p_excluded[i] = '' THEN NULL ELSE string_to_array(p_excluded[i], E'\x1f') END,
        p_payloads[i]
      );
    written := written || 1;
    wake := json_build_array(p_hub, p_origin, channel)::text;
    IF octet_length(wake) > 7000 THEN wake := '*'; END IF;
    IF NOT wake = ANY (woken) THEN
      woken := woken || wake;
      PERFORM pg_notify(p_notify, wake);
    END IF;
  END LOOP;
  RETURN written;
END
$$;

-- Deletes rows older than p_max_age_ms and all but the newest p_max_rows; one node at a time.
-- Returns the number of rows deleted.
CREATE FUNCTION bus_trim(p_notify text, p_max_age_ms bigint, p_max_rows bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  head bigint;
  upto bigint;
  deleted bigint;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext(p_notify || ':trim')) THEN
    RETURN 0;
  END IF;
  SELECT coalesce(max(id), 0) INTO head FROM bus_messages;
  SELECT greatest(
      head - p_max_rows,
      coalesce((SELECT max(id) FROM bus_messages
                WHERE created_at < clock_timestamp() - make_interval(secs => p_max_age_ms / 1000.0)), 0)
    ) INTO upto;
  DELETE FROM bus_messages WHERE id <= upto;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  IF deleted > 0 THEN
    UPDATE bus_state SET trimmed_to = greatest(trimmed_to, upto);
  END IF;
  RETURN deleted;
END
$$;
