-- Migration 7 of the SQLite storage: replies and threads. A reply is an ordinary message of its
-- room (its own seq) with parent_id naming its thread's first message; the parent keeps the number
-- of its replies and the seq of the newest one. thread_reads is each user's read marker in a thread
-- (the seq of the newest reply they saw there), apart from the room's marker.

ALTER TABLE messages ADD COLUMN parent_id TEXT REFERENCES messages (id);
ALTER TABLE messages ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_reply_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_parent ON messages (parent_id, seq) WHERE parent_id IS NOT NULL;

CREATE TABLE thread_reads (
  parent_id TEXT NOT NULL REFERENCES messages (id),
  user_id TEXT NOT NULL REFERENCES users (id),
  room_id TEXT NOT NULL REFERENCES rooms (id),
  last_read_seq INTEGER NOT NULL,
  PRIMARY KEY (parent_id, user_id)
);
CREATE INDEX thread_reads_room ON thread_reads (room_id, user_id);
