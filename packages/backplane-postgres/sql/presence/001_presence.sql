-- The PostgresPresenceStore's tables and functions. Names are unqualified: migrate() runs this file
-- with search_path set to the cluster's schema, and the store's connections use the same path.
--
-- Every write goes through one function call (one transaction). Locks are always taken in this
-- order: a node row, then user rows (several in user id order), then connection and group rows,
-- and last the presence_meta row, whose update numbers the events: so event numbers follow commit
-- order without a gap, and a reader that sees number n has every number before it.
-- Time is the database's (clock_timestamp()), so grace and lease never depend on the nodes' clocks.

-- The event numbering: epoch (a new one after the tables were emptied) and the last number.
CREATE TABLE presence_meta (
  id int PRIMARY KEY CHECK (id = 1),
  epoch text NOT NULL,
  seq bigint NOT NULL DEFAULT 0
);

-- Node leases, renewed by each node's heartbeat; the token tells a node's own process apart.
CREATE TABLE presence_nodes (
  node_id text PRIMARY KEY,
  token text NOT NULL,
  expires_at timestamptz NOT NULL
);

-- Online users, within the grace period included (due_at set while it runs).
CREATE TABLE presence_users (
  user_id text PRIMARY KEY,
  due_at timestamptz,
  last_seen_ms bigint,
  origin text
);
CREATE INDEX presence_users_due ON presence_users (due_at) WHERE due_at IS NOT NULL;

-- Live connections; arrival orders a user's connections, oldest first.
CREATE SEQUENCE presence_arrival;
CREATE TABLE presence_connections (
  connection_id text PRIMARY KEY,
  user_id text NOT NULL,
  node_id text NOT NULL,
  arrival bigint NOT NULL DEFAULT nextval('presence_arrival'),
  data jsonb NOT NULL
);
CREATE INDEX presence_connections_user ON presence_connections (user_id, arrival);
CREATE INDEX presence_connections_node ON presence_connections (node_id);

-- Group membership; a connection's rows go with it.
CREATE TABLE presence_groups (
  group_name text NOT NULL,
  connection_id text NOT NULL REFERENCES presence_connections ON DELETE CASCADE,
  user_id text NOT NULL,
  PRIMARY KEY (group_name, connection_id)
);
CREATE INDEX presence_groups_connection ON presence_groups (connection_id);

-- The recent events, for nodes catching up after a missed notification or a reconnect.
CREATE TABLE presence_events (
  epoch text NOT NULL,
  seq bigint NOT NULL,
  type text NOT NULL,
  user_id text NOT NULL,
  at_ms bigint NOT NULL,
  origin text NOT NULL,
  PRIMARY KEY (epoch, seq)
);

-- The NOTIFY channel of the schema (at most 63 bytes, whatever the schema's name).
CREATE FUNCTION presence_channel() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT 'sb_presence_' || md5(current_schema())
$$;

CREATE FUNCTION presence_ms(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT floor(extract(epoch FROM t) * 1000)::bigint
$$;

-- The current epoch; creates it when the meta row is missing (first use, or after a truncate).
-- Epochs are zero-padded microsecond timestamps: a later one sorts after an earlier one.
CREATE FUNCTION presence_epoch() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  e text;
BEGIN
  SELECT epoch INTO e FROM presence_meta WHERE id = 1;
  IF e IS NULL THEN
    INSERT INTO presence_meta (id, epoch)
    VALUES (1, lpad((extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text, 20, '0'))
    ON CONFLICT (id) DO NOTHING;
    SELECT epoch INTO e FROM presence_meta WHERE id = 1;
  END IF;
  RETURN e;
END
$$;

-- Numbers and stores the events {t, u, a, o} and wakes every node; returns them as a JSON array
-- of {e, s, t, u, a, o}. The meta row's lock, held to commit, keeps the numbering gapless.
CREATE FUNCTION presence_publish(evs jsonb[]) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  ev jsonb;
  e text;
  s bigint;
  out jsonb := '[]'::jsonb;
BEGIN
  IF evs IS NULL OR cardinality(evs) = 0 THEN
    RETURN out;
  END IF;
  PERFORM presence_epoch();
  UPDATE presence_meta SET seq = seq + cardinality(evs) WHERE id = 1 RETURNING epoch, seq INTO e, s;
  s := s - cardinality(evs);
  FOREACH ev IN ARRAY evs LOOP
    s := s + 1;
    INSERT INTO presence_events (epoch, seq, type, user_id, at_ms, origin)
    VALUES (e, s, ev->>'t', ev->>'u', (ev->>'a')::bigint, ev->>'o');
    out := out || jsonb_build_object('e', e, 's', s, 't', ev->>'t', 'u', ev->>'u',
      'a', (ev->>'a')::bigint, 'o', ev->>'o');
  END LOOP;
  PERFORM pg_notify(presence_channel(), 'ev:' || e || ':' || s);
  RETURN out;
END
$$;

-- Tells the owner of a connection about a change another node made to it (kind rm, ga or gr).
CREATE FUNCTION presence_tell(owner text, kind text, cid text, grp text) RETURNS void
LANGUAGE sql AS $$
  SELECT pg_notify(presence_channel(), 'ctl:' || jsonb_build_array(owner, kind, cid, grp)::text)
$$;

-- Removes a connection; the user's last one starts the grace period, or (grace 0 with an origin)
-- is offline at once. origin '' (a node closing) leaves the decision to whichever live node
-- claims the due offline. Returns {owner, ev} or NULL when there was no such connection.
CREATE FUNCTION presence_drop(cid text, origin text, grace_ms bigint, t timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  u text;
  owner text;
  ev jsonb := NULL;
BEGIN
  SELECT c.user_id INTO u FROM presence_connections c WHERE c.connection_id = cid;
  IF u IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM presence_users WHERE user_id = u FOR UPDATE;
  DELETE FROM presence_connections c WHERE c.connection_id = cid AND c.user_id = u
  RETURNING c.node_id INTO owner;
  IF owner IS NULL THEN
    RETURN NULL; -- removed (or given to another user) meanwhile
  END IF;
  IF NOT EXISTS (SELECT 1 FROM presence_connections c WHERE c.user_id = u) THEN
    IF grace_ms <= 0 AND origin <> '' THEN
      DELETE FROM presence_users WHERE user_id = u;
      IF FOUND THEN
        ev := jsonb_build_object('t', 'userOffline', 'u', u, 'a', presence_ms(t), 'o', origin);
      END IF;
    ELSE
      UPDATE presence_users
      SET due_at = t + grace_ms * interval '1 millisecond', last_seen_ms = presence_ms(t),
          origin = presence_drop.origin
      WHERE user_id = u;
    END IF;
  END IF;
  RETURN jsonb_build_object('owner', owner, 'ev', ev);
END
$$;

-- Adds (or updates) a connection of node n; the user's first one anywhere announces userOnline,
-- unless silent (a node re-asserting after the tables were emptied: its users were online).
-- Returns the events (not yet published).
CREATE FUNCTION presence_put(n text, cid text, u text, data jsonb, silent boolean, grace_ms bigint,
  t timestamptz) RETURNS jsonb[] LANGUAGE plpgsql AS $$
DECLARE
  evs jsonb[] := '{}';
  olduser text;
  dropped jsonb;
  inserted boolean;
BEGIN
  SELECT c.user_id INTO olduser FROM presence_connections c WHERE c.connection_id = cid;
  IF olduser IS NOT NULL AND olduser <> u THEN
    dropped := presence_drop(cid, n, grace_ms, t);
    IF dropped IS NOT NULL AND jsonb_typeof(dropped->'ev') = 'object' THEN
      evs := evs || (dropped->'ev');
    END IF;
  END IF;
  INSERT INTO presence_users AS p (user_id) VALUES (u)
  ON CONFLICT (user_id) DO UPDATE SET due_at = NULL, last_seen_ms = NULL, origin = NULL
  RETURNING (p.xmax = 0) INTO inserted;
  INSERT INTO presence_connections AS c (connection_id, user_id, node_id, data)
  VALUES (cid, u, n, data)
  ON CONFLICT (connection_id) DO UPDATE SET node_id = EXCLUDED.node_id, data = EXCLUDED.data;
  IF inserted AND NOT silent THEN
    evs := evs || jsonb_build_object('t', 'userOnline', 'u', u, 'a', presence_ms(t), 'o', n);
  END IF;
  RETURN evs;
END
$$;

-- Sweeps every node (other than n) whose lease ran out, once: the row lock taken with SKIP LOCKED
-- and the delete are the claim. The sweeping node decides the resulting offlines.
CREATE FUNCTION presence_sweep(n text, grace_ms bigint, t timestamptz) RETURNS jsonb[]
LANGUAGE plpgsql AS $$
DECLARE
  evs jsonb[] := '{}';
  dead text[];
  cid text;
  dropped jsonb;
BEGIN
  SELECT array_agg(node_id ORDER BY node_id) INTO dead FROM (
    SELECT node_id FROM presence_nodes WHERE expires_at < t AND node_id <> n
    ORDER BY node_id FOR UPDATE SKIP LOCKED
  ) expired;
  IF dead IS NULL THEN
    RETURN evs;
  END IF;
  DELETE FROM presence_nodes WHERE node_id = ANY (dead);
  FOR cid IN
    SELECT connection_id FROM presence_connections WHERE node_id = ANY (dead)
    ORDER BY user_id, connection_id
  LOOP
    dropped := presence_drop(cid, n, grace_ms, t);
    IF dropped IS NOT NULL AND jsonb_typeof(dropped->'ev') = 'object' THEN
      evs := evs || (dropped->'ev');
    END IF;
  END LOOP;
  RETURN evs;
END
$$;

-- Claims the offlines whose grace ran out, once. The origin is the removing node while its lease
-- holds, else the claiming node n.
CREATE FUNCTION presence_fire_due(n text, t timestamptz) RETURNS jsonb[] LANGUAGE plpgsql AS $$
DECLARE
  evs jsonb[] := '{}';
  r record;
  o text;
BEGIN
  FOR r IN
    SELECT p.user_id, p.last_seen_ms, p.origin FROM presence_users p
    WHERE p.due_at <= t
      AND NOT EXISTS (SELECT 1 FROM presence_connections c WHERE c.user_id = p.user_id)
    ORDER BY p.user_id FOR UPDATE SKIP LOCKED
  LOOP
    DELETE FROM presence_users WHERE user_id = r.user_id;
    o := r.origin;
    IF o IS NULL OR o = '' OR NOT EXISTS (
      SELECT 1 FROM presence_nodes WHERE node_id = o AND expires_at >= t
    ) THEN
      o := n;
    END IF;
    evs := evs || jsonb_build_object('t', 'userOffline', 'u', r.user_id,
      'a', coalesce(r.last_seen_ms, presence_ms(t)), 'o', o);
  END LOOP;
  RETURN evs;
END
$$;

-- Milliseconds until the next offline falls due, or -1.
CREATE FUNCTION presence_next_due(t timestamptz) RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN d IS NULL THEN -1 ELSE greatest(0, ceil(extract(epoch FROM d - t) * 1000))::bigint END
  FROM (SELECT min(due_at) AS d FROM presence_users WHERE due_at IS NOT NULL) next
$$;

-- addConnection. Returns {ok, events}; ok false (nothing added) when the lease is no longer the
-- node's (the tables were emptied, or the node was swept after a stall): it then re-asserts.
CREATE FUNCTION presence_add(n text, token text, cid text, u text, data jsonb, grace_ms bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  t timestamptz := clock_timestamp();
BEGIN
  PERFORM presence_epoch();
  PERFORM 1 FROM presence_nodes p WHERE p.node_id = n AND p.token = presence_add.token FOR SHARE;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('ok', false, 'events', '[]'::jsonb);
  END IF;
  RETURN jsonb_build_object('ok', true,
    'events', presence_publish(presence_put(n, cid, u, data, false, grace_ms, t)));
END
$$;

-- removeConnection, from any node; tells the owner when it is another node.
-- Returns {events, due: ms until the next due offline or -1}.
CREATE FUNCTION presence_remove(n text, cid text, grace_ms bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  t timestamptz := clock_timestamp();
  dropped jsonb;
  evs jsonb[] := '{}';
BEGIN
  PERFORM presence_epoch();
  dropped := presence_drop(cid, n, grace_ms, t);
  IF dropped IS NOT NULL THEN
    IF dropped->>'owner' <> n THEN
      PERFORM presence_tell(dropped->>'owner', 'rm', cid, NULL);
    END IF;
    IF jsonb_typeof(dropped->'ev') = 'object' THEN
      evs := evs || (dropped->'ev');
    END IF;
  END IF;
  RETURN jsonb_build_object('events', presence_publish(evs), 'due', presence_next_due(t));
END
$$;

-- addToGroup / removeFromGroup, from any node. No effect for an unknown connection. Returns
-- whether the connection exists.
CREATE FUNCTION presence_group(n text, cid text, grp text, joining boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  u text;
  owner text;
BEGIN
  SELECT c.user_id, c.node_id INTO u, owner FROM presence_connections c WHERE c.connection_id = cid;
  IF u IS NULL THEN
    RETURN false;
  END IF;
  IF joining THEN
    BEGIN
      INSERT INTO presence_groups (group_name, connection_id, user_id) VALUES (grp, cid, u)
      ON CONFLICT DO NOTHING;
    EXCEPTION WHEN foreign_key_violation THEN
      RETURN false; -- the connection went meanwhile
    END;
  ELSE
    DELETE FROM presence_groups g WHERE g.group_name = grp AND g.connection_id = cid;
  END IF;
  IF owner <> n THEN
    PERFORM presence_tell(owner, CASE WHEN joining THEN 'ga' ELSE 'gr' END, cid, grp);
  END IF;
  RETURN true;
END
$$;

-- The heartbeat. While the lease is the node's: renews it, sweeps dead nodes, claims due
-- offlines, trims the event log to its last log_len events. Returns {ok, epoch, head, events,
-- due}.
CREATE FUNCTION presence_heartbeat(n text, token text, lease_ms bigint, grace_ms bigint,
  log_len bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  t timestamptz := clock_timestamp();
  e text := presence_epoch();
  ok boolean;
  evs jsonb[] := '{}';
  published jsonb;
  head bigint;
BEGIN
  UPDATE presence_nodes p SET expires_at = t + lease_ms * interval '1 millisecond'
  WHERE p.node_id = n AND p.token = presence_heartbeat.token;
  ok := FOUND;
  IF ok THEN
    evs := presence_sweep(n, grace_ms, t);
    evs := evs || presence_fire_due(n, t);
  END IF;
  published := presence_publish(evs);
  SELECT m.epoch, m.seq INTO e, head FROM presence_meta m WHERE m.id = 1;
  IF ok THEN
    DELETE FROM presence_events WHERE epoch <> e OR seq <= head - log_len;
  END IF;
  RETURN jsonb_build_object('ok', ok, 'epoch', e, 'head', head, 'events', published,
    'due', presence_next_due(t));
END
$$;

-- Joins the cluster, or re-asserts the node after its lease was lost (the tables emptied, a stall
-- long enough to be swept). state: {c: [[id, user, data, [groups]]], u: [users the node knows
-- online]}; prev_epoch: the epoch of the node's last lease ('' at start). Makes the tables hold
-- exactly the node's connections (a previous process's leftovers go). In a new epoch, re-asserted
-- users the node knew online come back silently, and known users with no connection left get an
-- offline due after lease + grace, unless some node re-asserts them.
-- Returns {epoch, head, events, due}.
CREATE FUNCTION presence_assert(n text, token text, lease_ms bigint, grace_ms bigint,
  prev_epoch text, state jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  t timestamptz := clock_timestamp();
  e text := presence_epoch();
  silent boolean;
  evs jsonb[] := '{}';
  keep text[];
  known text[];
  c jsonb;
  cid text;
  dropped jsonb;
  existed boolean;
  published jsonb;
  head bigint;
BEGIN
  silent := prev_epoch <> e;
  SELECT coalesce(array_agg(x->>0), '{}') INTO keep FROM jsonb_array_elements(state->'c') x;
  SELECT coalesce(array_agg(x), '{}') INTO known FROM jsonb_array_elements_text(state->'u') x;
  INSERT INTO presence_nodes AS p (node_id, token, expires_at)
  VALUES (n, presence_assert.token, t + lease_ms * interval '1 millisecond')
  ON CONFLICT (node_id) DO UPDATE SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at;
  FOR cid IN
    SELECT connection_id FROM presence_connections
    WHERE node_id = n AND NOT (connection_id = ANY (keep))
    ORDER BY user_id, connection_id
  LOOP
    dropped := presence_drop(cid, n, grace_ms, t);
    IF dropped IS NOT NULL AND jsonb_typeof(dropped->'ev') = 'object' THEN
      evs := evs || (dropped->'ev');
    END IF;
  END LOOP;
  FOR c IN SELECT x FROM jsonb_array_elements(state->'c') x ORDER BY x->>1, x->>0 LOOP
    existed := EXISTS (SELECT 1 FROM presence_connections WHERE connection_id = c->>0);
    evs := evs || presence_put(n, c->>0, c->>1, c->2, silent AND (c->>1) = ANY (known), grace_ms, t);
    IF NOT existed THEN
      INSERT INTO presence_groups (group_name, connection_id, user_id)
      SELECT g, c->>0, c->>1 FROM jsonb_array_elements_text(c->3) g
      ON CONFLICT DO NOTHING;
    END IF;
  END LOOP;
  IF silent AND prev_epoch <> '' THEN
    INSERT INTO presence_users (user_id, due_at, last_seen_ms, origin)
    SELECT k, t + (grace_ms + lease_ms) * interval '1 millisecond', presence_ms(t), ''
    FROM unnest(known) k
    WHERE NOT EXISTS (SELECT 1 FROM presence_connections WHERE user_id = k)
    ORDER BY k
    ON CONFLICT (user_id) DO NOTHING;
  END IF;
  evs := evs || presence_sweep(n, grace_ms, t);
  evs := evs || presence_fire_due(n, t);
  published := presence_publish(evs);
  SELECT m.epoch, m.seq INTO e, head FROM presence_meta m WHERE m.id = 1;
  RETURN jsonb_build_object('epoch', e, 'head', head, 'events', published,
    'due', presence_next_due(t));
END
$$;

-- close. Removes the node's connections (their offlines are decided by the nodes that remain)
-- and gives the lease up, unless another process holds the node id now.
CREATE FUNCTION presence_close(n text, token text, grace_ms bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t timestamptz := clock_timestamp();
  holder text;
  cid text;
BEGIN
  SELECT p.token INTO holder FROM presence_nodes p WHERE p.node_id = n FOR UPDATE;
  IF holder IS NOT NULL AND holder <> presence_close.token THEN
    RETURN;
  END IF;
  FOR cid IN
    SELECT connection_id FROM presence_connections WHERE node_id = n ORDER BY user_id, connection_id
  LOOP
    PERFORM presence_drop(cid, '', grace_ms, t);
  END LOOP;
  DELETE FROM presence_nodes WHERE node_id = n;
END
$$;
