-- Migration 11 of the SQLite storage (issue #15):
-- 1. The host app's users: a users row each (id derived from issuer and subject, so it never
--    collides with a local account), with the issuer, subject, avatar and the claims last seen.
-- 2. API keys of the host app's backend, stored hashed (sha256 of the key), one per name.

CREATE TABLE host_users (
  user_id TEXT PRIMARY KEY,
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  avatar_url TEXT,
  claims_hash TEXT NOT NULL,   -- what the claims said last time
  updated_at TEXT NOT NULL,
  UNIQUE (issuer, subject)
);

CREATE TABLE api_keys (
  name TEXT PRIMARY KEY,
  key_hash TEXT NOT NULL UNIQUE,     -- sha256 hex of the key, never the key
  prefix TEXT NOT NULL,              -- the first characters, to tell keys apart
  created_at TEXT NOT NULL,
  last_used_at TEXT
);
