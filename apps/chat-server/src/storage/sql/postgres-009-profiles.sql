-- Migration 9 of the PostgreSQL storage: profiles. A user's avatar is a square raster image whose
-- bytes live in the attachments' blob store (attachment_blobs, or ATTACHMENTS_DIR) under a
-- server-made id, so every node serves it; avatar_id names it (NULL: none, initials on a colour
-- are shown). away: the user said they are away (shown as "away" while they are online).

ALTER TABLE users ADD COLUMN avatar_id text;
ALTER TABLE users ADD COLUMN away boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX users_avatar ON users (avatar_id) WHERE avatar_id IS NOT NULL;
