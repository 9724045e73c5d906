-- Node leases of the bus: each node renews its row (bus_beat) while it runs. A send to a connection
-- whose node's lease ran out still goes to that node's inbox (it may come back and read it), but
-- bus_publish answers 2 instead of 1, so that a remote group change or a client invocation does not
-- wait for a node that is gone. The clean-up forgets nodes (and their routes) gone for longer than
-- the window.
CREATE TABLE bus_nodes (
  hub text NOT NULL,
  node_id text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (hub, node_id)
);
-- Nodes that held routes before leases existed get one, so their routes are not swept at once.
INSERT INTO bus_nodes (hub, node_id, expires_at)
  SELECT DISTINCT hub, node_id, clock_timestamp() + interval '1 minute' FROM bus_connections;

-- Renews a node's lease for p_lease_ms.
CREATE FUNCTION bus_beat(p_hub text, p_node text, p_lease_ms bigint) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
  INSERT INTO bus_nodes (hub, node_id, expires_at)
    VALUES (p_hub, p_node, clock_timestamp() + make_interval(secs => p_lease_ms / 1000.0))
    ON CONFLICT (hub, node_id) DO UPDATE SET expires_at = EXCLUDED.expires_at;
$$;

-- As in 001, and a send to a connection whose node's lease ran out answers 2.
CREATE OR REPLACE FUNCTION bus_publish(
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
  alive boolean;
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
      SELECT c.node_id, coalesce(n.expires_at > clock_timestamp(), false) INTO node, alive
        FROM bus_connections c
        LEFT JOIN bus_nodes n ON n.hub = c.hub AND n.node_id = c.node_id
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
    written := written || CASE WHEN alive IS false THEN 2 ELSE 1 END;
    alive := NULL;
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

-- As in 001, and forgets nodes gone for longer than the window.
CREATE OR REPLACE FUNCTION bus_trim(p_notify text, p_max_age_ms bigint, p_max_rows bigint) RETURNS bigint
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
  -- Nodes gone for longer than the window, and their routes.
  DELETE FROM bus_nodes
    WHERE expires_at < clock_timestamp() - make_interval(secs => p_max_age_ms / 1000.0);
  DELETE FROM bus_connections c
    WHERE NOT EXISTS (SELECT 1 FROM bus_nodes n WHERE n.hub = c.hub AND n.node_id = c.node_id);
  RETURN deleted;
END
$$;
