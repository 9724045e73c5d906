-- Profiles (both dialects): display name, avatar, "away", and signing out everywhere.

-- name: setDisplayName
-- Params: :id :displayName.
UPDATE users SET display_name = :displayName WHERE id = :id;

-- name: setAvatar
-- Params: :id :avatarId (NULL: none).
UPDATE users SET avatar_id = :avatarId WHERE id = :id;

-- name: userByAvatar
-- Params: :avatarId.
SELECT * FROM users WHERE avatar_id = :avatarId;

-- name: setAway
-- Params: :id :away.
UPDATE users SET away = :away WHERE id = :id;

-- name: bumpTokenVersion
-- Params: :id. Every token issued before stops working.
UPDATE users SET token_version = token_version + 1 WHERE id = :id RETURNING token_version;
