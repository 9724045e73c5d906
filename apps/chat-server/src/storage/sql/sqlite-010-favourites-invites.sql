-- Migration 10 of the SQLite storage: favourite rooms (kept per user) and invite links (a token
-- with an expiry and a use limit, revocable). An invite's uses are counted by one conditional
-- update, so two people taking the last use at once cannot both get in.

CREATE TABLE room_favourites (
  user_id TEXT NOT NULL REFERENCES users (id),
  room_id TEXT NOT NULL REFERENCES rooms (id),
  created_at TEXT NOT NULL,
  PRIMARY KEY (user_id, room_id)
);

CREATE TABLE room_invites (
  id TEXT PRIMARY KEY,
  token TEXT NOT NULL UNIQUE,
  room_id TEXT NOT NULL REFERENCES rooms (id),
  created_by TEXT NOT NULL REFERENCES users (id),
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  max_uses INTEGER NOT NULL,
  uses INTEGER NOT NULL DEFAULT 0,
  revoked_at TEXT
);
CREATE INDEX room_invites_room ON room_invites (room_id, created_at);
