-- Migration 2 of the SQLite storage: token buckets (MESSAGE_RATE_LIMIT), as on PostgreSQL.

CREATE TABLE rate_buckets (
  key TEXT PRIMARY KEY,
  tokens REAL NOT NULL,
  at_ms REAL NOT NULL
);
