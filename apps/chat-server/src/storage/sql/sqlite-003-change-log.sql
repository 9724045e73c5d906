-- Migration 3 of the SQLite storage: the per-room change log (edits, deletions, reactions), as on
-- PostgreSQL. rooms.last_change is the room's change counter (1, 2, 3 … without gap, taken under
-- the write lock like last_seq); messages.change_seq is the number of a message's latest change.
-- Entries older than the retention (30 days) are purged as the room changes again.

ALTER TABLE rooms ADD COLUMN last_change INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE room_changes (
  room_id TEXT NOT NULL REFERENCES rooms (id),
  change_seq INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  seq INTEGER NOT NULL,                   -- the message's seq
  kind TEXT NOT NULL,                     -- edited | deleted | reactions
  at TEXT NOT NULL,
  PRIMARY KEY (room_id, change_seq)
);
CREATE INDEX room_changes_at ON room_changes (room_id, at);
