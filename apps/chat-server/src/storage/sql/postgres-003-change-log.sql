-- Migration 3 of the PostgreSQL storage: the per-room change log (edits, deletions, reactions).
-- rooms.last_change is the room's change counter, taken by `UPDATE rooms … RETURNING` inside the
-- change's transaction, so it holds the room row's lock until commit: numbers are gap-free and
-- committed in order on every node. messages.change_seq is the number of a message's latest change.
-- Entries older than the retention (30 days) are purged as the room changes again.

ALTER TABLE rooms ADD COLUMN last_change integer NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN change_seq integer NOT NULL DEFAULT 0;

CREATE TABLE room_changes (
  room_id text NOT NULL REFERENCES rooms (id),
  change_seq integer NOT NULL,
  message_id text NOT NULL,
  seq integer NOT NULL,                   -- the message's seq
  kind text NOT NULL,                     -- edited | deleted | reactions
  at timestamptz NOT NULL,
  PRIMARY KEY (room_id, change_seq)
);
CREATE INDEX room_changes_at ON room_changes (room_id, at);
