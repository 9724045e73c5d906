-- Migration 10 of the PostgreSQL storage: favourite rooms (kept per user) and invite links (a
-- token with an expiry and a use limit, revocable). An invite's uses are counted by one conditional
-- update, so two people taking the last use at once on two nodes cannot both get in.

CREATE TABLE room_favourites (
  user_id text NOT NULL REFERENCES users (id),
  room_id text NOT NULL REFERENCES rooms (id),
  created_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, room_id)
);

CREATE TABLE room_invites (
  id text PRIMARY KEY,
  token text NOT NULL UNIQUE,
  room_id text NOT NULL REFERENCES rooms (id),
  created_by text NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  max_uses integer NOT NULL,
  uses integer NOT NULL DEFAULT 0,
  revoked_at timestamptz
);
CREATE INDEX room_invites_room ON room_invites (room_id, created_at);
