-- Migration 5 of the SQLite storage (issue #18):
-- 1. A clientMessageId is unique per room and sender, not per sender: the same id in a second room
--    is a second message. SQLite cannot change a table constraint, so messages is rebuilt after
--    this file by the step named 'security' in storage/sqlite-rebuild.ts (from the stored
--    CREATE TABLE text, keeping every column earlier migrations added).
-- 2. Failed logins per account (the per-account backoff) and the addresses each account signed in
--    from (where that backoff does not apply), shared by every connection to the file.

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
