-- Migration 8 of the SQLite storage: files attached to messages, and room settings (below). A row
-- is written once its bytes are stored (on disk under DATA_DIR/attachments, or ATTACHMENTS_DIR, by
-- the attachment's id, never its name); message_id is NULL until a message takes it. Rows never
-- attached are swept after a day.

CREATE TABLE attachments (
  id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL REFERENCES rooms (id),
  uploader_id TEXT NOT NULL REFERENCES users (id),
  message_id TEXT REFERENCES messages (id),
  name TEXT NOT NULL,                    -- shown and offered as the download's name, never a path
  content_type TEXT NOT NULL,            -- what it is served as: a checked image type or the declared one
  inline INTEGER NOT NULL DEFAULT 0,     -- 1: a PNG, JPEG, GIF or WebP whose bytes match its type
  size INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);
CREATE INDEX attachments_uploader ON attachments (uploader_id, created_at);
CREATE INDEX attachments_unattached ON attachments (created_at) WHERE message_id IS NULL;

-- Room settings: a topic shown under the room's name, and archiving (read-only, out of the public
-- list, restorable).
ALTER TABLE rooms ADD COLUMN topic TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
