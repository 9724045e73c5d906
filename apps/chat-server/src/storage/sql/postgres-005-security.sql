-- Migration 5 of the PostgreSQL storage (issue #18):
-- 1. A clientMessageId is unique per room and sender, not per sender: the same id in a second room
--    is a second message.
-- 2. Failed logins per account (the per-account backoff) and the addresses each account signed in
--    from (where that backoff does not apply), shared by every node.

ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_sender_id_client_message_id_key;
ALTER TABLE messages ADD CONSTRAINT messages_room_sender_client_key UNIQUE (room_id, sender_id, client_message_id);

CREATE TABLE login_failures (
  key text PRIMARY KEY,                    -- 'account:<username>' or 'account:<username>@<address hash>'
  failures integer NOT NULL,
  blocked_until_ms double precision NOT NULL, -- no attempt before this (ms since the epoch)
  updated_ms double precision NOT NULL
);

CREATE INDEX login_failures_updated ON login_failures (updated_ms);

CREATE TABLE login_addresses (
  user_id text NOT NULL,
  address_hash text NOT NULL,              -- sha256 of the client address, not the address
  last_login_ms double precision NOT NULL,
  PRIMARY KEY (user_id, address_hash)
);
