-- Migration 5 of the SQLite storage (issue #18):
-- 1. A clientMessageId is unique per room and sender, not per sender: the same id in a second room
--    is a second message. SQLite cannot drop a table constraint, so messages is rebuilt.
-- 2. Failed logins per account (the per-account backoff) and the addresses each account signed in
--    from (where that backoff does not apply), shared by every connection to the file.

CREATE TABLE messages_rebuilt (
  id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL REFERENCES rooms (id),
  seq INTEGER NOT NULL,
  sender_id TEXT NOT NULL,
  text TEXT NOT NULL,
  client_message_id TEXT NOT NULL,
  sent_at TEXT NOT NULL,
  edited_at TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  UNIQUE (room_id, seq),
  UNIQUE (room_id, sender_id, client_message_id)
);
INSERT INTO messages_rebuilt (id, room_id, seq, sender_id, text, client_message_id, sent_at, edited_at, deleted)
SELECT id, room_id, seq, sender_id, text, client_message_id, sent_at, edited_at, deleted FROM messages;
DROP TABLE messages;
ALTER TABLE messages_rebuilt RENAME TO messages;

CREATE TABLE login_failures (
  key TEXT PRIMARY KEY,                   -- 'account:<username>' or 'account:<username>@<address hash>'
  failures INTEGER NOT NULL,
  blocked_until_ms REAL NOT NULL,         -- no attempt before this (ms since the epoch)
  updated_ms REAL NOT NULL
);

CREATE INDEX login_failures_updated ON login_failures (updated_ms);

CREATE TABLE login_addresses (
  user_id TEXT NOT NULL,
  address_hash TEXT NOT NULL,             -- sha256 of the client address, not the address
  last_login_ms REAL NOT NULL,
  PRIMARY KEY (user_id, address_hash)
);
