-- Migration 8 of the PostgreSQL storage: files attached to messages, their bytes in the database
-- (attachment_blobs) so that every node sharing DATABASE_URL serves every file (unless
-- ATTACHMENTS_DIR names a shared directory). message_id is NULL until a message takes the file;
-- rows never attached are swept after a day.

CREATE TABLE attachments (
  id text PRIMARY KEY,
  room_id text NOT NULL REFERENCES rooms (id),
  uploader_id text NOT NULL REFERENCES users (id),
  message_id text REFERENCES messages (id),
  name text NOT NULL,                    -- shown and offered as the download's name, never a path
  content_type text NOT NULL,            -- what it is served as: a checked image type or the declared one
  inline boolean NOT NULL DEFAULT false, -- a PNG, JPEG, GIF or WebP whose bytes match its type
  size integer NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);
CREATE INDEX attachments_uploader ON attachments (uploader_id, created_at);
CREATE INDEX attachments_unattached ON attachments (created_at) WHERE message_id IS NULL;

-- The bytes, by attachment id; written before the attachments row, removed after it.
CREATE TABLE attachment_blobs (
  id text PRIMARY KEY,
  data bytea NOT NULL
);

-- Room settings: a topic shown under the room's name, and archiving (read-only, out of the public
-- list, restorable).
ALTER TABLE rooms ADD COLUMN topic text NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN archived boolean NOT NULL DEFAULT false;
