-- Migration 1 of the SQLite storage: every table of the chat.
-- Runs once inside a transaction; storage/sqlite-storage.ts records it in schema_migrations.
-- Times are ISO 8601 text (sortable), booleans 0/1, ids text.

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,          -- lower-case
  display_name TEXT NOT NULL,
  password_hash TEXT,                     -- null for guests
  role TEXT NOT NULL DEFAULT 'user',
  is_guest INTEGER NOT NULL DEFAULT 0,
  token_version INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  last_seen_at TEXT
);

CREATE TABLE revoked_tokens (
  jti TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL             -- ms since the epoch
);

CREATE TABLE rooms (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  is_private INTEGER NOT NULL,
  kind TEXT NOT NULL,                     -- room | direct | support
  owner_id TEXT,
  direct_key TEXT UNIQUE,                 -- sorted member ids of a direct room
  last_seq INTEGER NOT NULL DEFAULT 0,    -- the room's sequence counter
  created_at TEXT NOT NULL,
  last_activity_at TEXT NOT NULL
);
CREATE INDEX rooms_owner ON rooms (owner_id, kind);

CREATE TABLE room_members (
  room_id TEXT NOT NULL REFERENCES rooms (id),
  user_id TEXT NOT NULL REFERENCES users (id),
  joined_at TEXT NOT NULL,
  last_read_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);

CREATE TABLE messages (
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
  UNIQUE (sender_id, client_message_id)
);

CREATE TABLE message_mentions (
  message_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_mentions_user ON message_mentions (user_id, room_id, seq);

CREATE TABLE reactions (
  message_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  emoji TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (message_id, user_id, emoji)
);

CREATE TABLE blocks (
  blocker_id TEXT NOT NULL,
  blocked_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (blocker_id, blocked_id)
);

CREATE TABLE support_requests (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  status TEXT NOT NULL,                   -- open | assigned | closed
  agent_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  closed_at TEXT
);
CREATE INDEX support_requests_status ON support_requests (status, created_at);
CREATE INDEX support_requests_customer ON support_requests (customer_id, status);
CREATE INDEX support_requests_agent ON support_requests (agent_id, status);

-- Full-text index of message text; rows are kept in step by the storage (insert, edit, delete).
CREATE VIRTUAL TABLE messages_fts USING fts5 (text, message_id UNINDEXED, room_id UNINDEXED, tokenize = 'unicode61');
