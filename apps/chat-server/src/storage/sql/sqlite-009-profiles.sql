-- Migration 9 of the SQLite storage: profiles. A user's avatar is a square raster image whose
-- bytes live in the attachments' blob store (disk under DATA_DIR/attachments or ATTACHMENTS_DIR)
-- under a server-made id; avatar_id names it (NULL: none, initials on a colour are shown).
-- away: the user said they are away (shown as "away" while they are online).

ALTER TABLE users ADD COLUMN avatar_id TEXT;
ALTER TABLE users ADD COLUMN away INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX users_avatar ON users (avatar_id) WHERE avatar_id IS NOT NULL;
