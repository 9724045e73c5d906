-- Migration 1 of the PostgreSQL storage: every table of the chat.
-- Runs once inside a transaction holding an advisory lock (several nodes may start at once);
-- storage/postgres-storage.ts records it in schema_migrations. Tables live in the configured
-- schema (search_path).

CREATE TABLE settings (
  key text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE users (
  id text PRIMARY KEY,
  username text NOT NULL UNIQUE,          -- lower-case
  display_name text NOT NULL,
  password_hash text,                     -- null for guests
  role text NOT NULL DEFAULT 'user',
  is_guest boolean NOT NULL DEFAULT false,
  token_version integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz
);

CREATE TABLE revoked_tokens (
  jti text PRIMARY KEY,
  expires_at bigint NOT NULL              -- ms since the epoch
);

CREATE TABLE rooms (
  id text PRIMARY KEY,
  name text NOT NULL,
  is_private boolean NOT NULL,
  kind text NOT NULL,                     -- room | direct | support
  owner_id text,
  direct_key text UNIQUE,                 -- sorted member ids of a direct room
  last_seq integer NOT NULL DEFAULT 0,    -- the room's sequence counter, locked by each insert
  created_at timestamptz NOT NULL,
  last_activity_at timestamptz NOT NULL
);
CREATE INDEX rooms_owner ON rooms (owner_id, kind);

CREATE TABLE room_members (
  room_id text NOT NULL REFERENCES rooms (id),
  user_id text NOT NULL REFERENCES users (id),
  joined_at timestamptz NOT NULL,
  last_read_seq integer NOT NULL DEFAULT 0,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);

CREATE TABLE messages (
  id text PRIMARY KEY,
  room_id text NOT NULL REFERENCES rooms (id),
  seq integer NOT NULL,
  sender_id text NOT NULL,
  text text NOT NULL,
  client_message_id text NOT NULL,
  sent_at timestamptz NOT NULL,
  edited_at timestamptz,
  deleted boolean NOT NULL DEFAULT false,
  search tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED,
  UNIQUE (room_id, seq),
  UNIQUE (sender_id, client_message_id)
);
CREATE INDEX messages_search ON messages USING gin (search);

CREATE TABLE message_mentions (
  message_id text NOT NULL,
  user_id text NOT NULL,
  room_id text NOT NULL,
  seq integer NOT NULL,
  PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_mentions_user ON message_mentions (user_id, room_id, seq);

CREATE TABLE reactions (
  message_id text NOT NULL,
  user_id text NOT NULL,
  emoji text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (message_id, user_id, emoji)
);

CREATE TABLE blocks (
  blocker_id text NOT NULL,
  blocked_id text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (blocker_id, blocked_id)
);

CREATE TABLE support_requests (
  id text PRIMARY KEY,
  customer_id text NOT NULL,
  room_id text NOT NULL,
  subject text NOT NULL,
  status text NOT NULL,                   -- open | assigned | closed
  agent_id text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  closed_at timestamptz
);
CREATE INDEX support_requests_status ON support_requests (status, created_at);
CREATE INDEX support_requests_customer ON support_requests (customer_id, status);
CREATE INDEX support_requests_agent ON support_requests (agent_id, status);
