-- Favourites, invite links and thread states: queries of the postgres storage (see queries.sql for the format).

-- name: insertFavourite
-- Params: :userId :roomId :at.
INSERT INTO room_favourites (user_id, room_id, created_at) VALUES (:userId, :roomId, :at::timestamptz)
ON CONFLICT (user_id, room_id) DO NOTHING;

-- name: deleteFavourite
-- Params: :userId :roomId.
DELETE FROM room_favourites WHERE user_id = :userId AND room_id = :roomId;

-- name: favouriteRoomIds
-- Params: :userId.
SELECT room_id FROM room_favourites WHERE user_id = :userId;

-- name: insertInvite
-- Params: :id :token :roomId :createdBy :createdAt :expiresAt :maxUses.
INSERT INTO room_invites (id, token, room_id, created_by, created_at, expires_at, max_uses)
VALUES (:id, :token, :roomId, :createdBy, :createdAt::timestamptz, :expiresAt::timestamptz, :maxUses);

-- name: inviteById
-- Params: :id.
SELECT id, token, room_id, created_by, created_at, expires_at, max_uses, uses, revoked_at
FROM room_invites WHERE id = :id;

-- name: inviteByToken
-- Params: :token.
SELECT id, token, room_id, created_by, created_at, expires_at, max_uses, uses, revoked_at
FROM room_invites WHERE token = :token;

-- name: invitesOfRoom
-- Params: :roomId. Newest first.
SELECT id, token, room_id, created_by, created_at, expires_at, max_uses, uses, revoked_at
FROM room_invites WHERE room_id = :roomId ORDER BY created_at DESC, id LIMIT 200;

-- name: revokeInvite
-- Params: :id :at. Only once.
UPDATE room_invites SET revoked_at = :at::timestamptz WHERE id = :id AND revoked_at IS NULL;

-- name: useInvite
-- Params: :token :now. One use, only while the link is active (one conditional update); a row back:
-- the use was taken.
UPDATE room_invites SET uses = uses + 1
WHERE token = :token AND revoked_at IS NULL AND uses < max_uses AND expires_at > :now::timestamptz
RETURNING room_id;

-- name: threadStates
-- Params: :roomId :userId :parentId (NULL: every thread of the room). The threads the user is in
-- (wrote the first message or a reply; reading a thread alone does not put one in it).
SELECT p.id, p.room_id, p.reply_count, p.last_reply_seq, COALESCE(t.last_read_seq, 0) AS last_read_seq,
  (SELECT COUNT(*) FROM messages r
   WHERE r.parent_id = p.id AND r.seq > COALESCE(t.last_read_seq, 0) AND r.sender_id <> :userId
     AND NOT r.deleted) AS unread_count
FROM messages p
LEFT JOIN thread_reads t ON t.parent_id = p.id AND t.user_id = :userId
WHERE p.room_id = :roomId AND p.reply_count > 0
  AND (p.sender_id = :userId
       OR EXISTS (SELECT 1 FROM messages m WHERE m.parent_id = p.id AND m.sender_id = :userId))
  AND (:parentId::text IS NULL OR p.id = :parentId::text)
ORDER BY p.last_reply_seq DESC
LIMIT 500;

-- name: threadParticipants
-- Params: :parentId. The thread's first message's author and everyone who replied in it.
SELECT sender_id AS user_id FROM messages WHERE id = :parentId
UNION
SELECT sender_id AS user_id FROM messages WHERE parent_id = :parentId;
