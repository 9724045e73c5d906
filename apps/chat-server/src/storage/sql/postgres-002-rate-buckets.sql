-- Migration 2 of the PostgreSQL storage: token buckets shared by every node (MESSAGE_RATE_LIMIT
-- holds per user across the cluster). One row per key; takeRateToken refills and takes in one
-- INSERT … ON CONFLICT DO UPDATE, which locks the row, so concurrent takes on any node queue.

CREATE TABLE rate_buckets (
  key text PRIMARY KEY,
  tokens double precision NOT NULL,
  at_ms double precision NOT NULL          -- when tokens was computed, ms since the epoch
);
