-- Migration 11 of the PostgreSQL storage (issue #15):
-- 1. The host app's users: a users row each (id derived from issuer and subject, so it never
--    collides with a local account), with the issuer, subject, avatar and the claims last seen.
-- 2. API keys of the host app's backend, stored hashed (sha256 of the key), one per name.

CREATE TABLE host_users (
  user_id text PRIMARY KEY,
  issuer text NOT NULL,
  subject text NOT NULL,
  avatar_url text,
  claims_hash text NOT NULL,   -- what the claims said last time
  updated_at timestamptz NOT NULL,
  UNIQUE (issuer, subject)
);

CREATE TABLE api_keys (
  name text PRIMARY KEY,
  key_hash text NOT NULL UNIQUE,     -- sha256 hex of the key, never the key
  prefix text NOT NULL,              -- the first characters, to tell keys apart
  created_at timestamptz NOT NULL,
  last_used_at timestamptz
);
