-- SQLite's own queries: id lists arrive as a JSON array text (json_each), and the FTS5 index is
-- kept in step by hand. Blocks start with "-- name: <key>"; parameters are :name.

-- name: usersByIds
-- Params: :ids (JSON array of user ids).
SELECT * FROM users WHERE id IN (SELECT value FROM json_each(:ids));

-- name: messagesByIds
-- Params: :ids (JSON array).
SELECT id, room_id, seq, sender_id, text, client_message_id, sent_at, edited_at, deleted, change_seq, parent_id, reply_count, last_reply_seq
FROM messages WHERE id IN (SELECT value FROM json_each(:ids));

-- name: reactionsOf
-- Params: :ids (JSON array of message ids).
SELECT message_id, emoji, user_id FROM reactions WHERE message_id IN (SELECT value FROM json_each(:ids))
ORDER BY created_at, user_id;

-- name: mentionsOf
-- Params: :ids (JSON array of message ids).
SELECT message_id, user_id FROM message_mentions WHERE message_id IN (SELECT value FROM json_each(:ids));

-- name: sharingRoomWith
-- Params: :userId :ids (JSON array).
SELECT DISTINCT o.user_id FROM room_members m JOIN room_members o ON o.room_id = m.room_id
WHERE m.user_id = :userId AND o.user_id IN (SELECT value FROM json_each(:ids));

-- name: sendersSeenBy
-- Params: :userId :ids. Which of ids wrote a message in a room userId is a member of.
SELECT DISTINCT m.sender_id AS user_id FROM messages m
JOIN room_members rm ON rm.room_id = m.room_id AND rm.user_id = :userId
WHERE m.sender_id IN (SELECT value FROM json_each(:ids));

-- name: blockersOf
-- Params: :userId :ids (JSON array). Which of ids have blocked userId.
SELECT blocker_id FROM blocks WHERE blocked_id = :userId AND blocker_id IN (SELECT value FROM json_each(:ids));

-- name: ftsInsert
-- Params: :messageId :roomId :text.
INSERT INTO messages_fts (text, message_id, room_id) VALUES (:text, :messageId, :roomId);

-- name: ftsDelete
-- Params: :messageId.
DELETE FROM messages_fts WHERE message_id = :messageId;

-- name: searchMessages
-- Params: :userId :query (an FTS5 expression of quoted prefixes: "thank"* "you"*) :roomId (or null) :limit.
SELECT m.id, m.room_id, m.seq, m.sender_id, m.text, m.client_message_id, m.sent_at, m.edited_at, m.deleted, m.change_seq, m.parent_id, m.reply_count, m.last_reply_seq
FROM messages_fts f
JOIN messages m ON m.id = f.message_id
JOIN room_members rm ON rm.room_id = m.room_id AND rm.user_id = :userId
WHERE messages_fts MATCH :query AND (:roomId IS NULL OR m.room_id = :roomId)
ORDER BY m.sent_at DESC, m.seq DESC
LIMIT :limit;

-- name: takeRateToken
-- Params: :key :rate (tokens per second) :burst. As on PostgreSQL, on the process clock (one
-- node): refill, then take a token when one is there; one row back when taken.
INSERT INTO rate_buckets AS b (key, tokens, at_ms)
VALUES (:key, :burst - 1, unixepoch('subsec') * 1000)
ON CONFLICT (key) DO UPDATE SET
  tokens = min(:burst, b.tokens + max(0, unixepoch('subsec') * 1000 - b.at_ms) / 1000.0 * :rate) - 1,
  at_ms = max(b.at_ms, unixepoch('subsec') * 1000)
WHERE min(:burst, b.tokens + max(0, unixepoch('subsec') * 1000 - b.at_ms) / 1000.0 * :rate) >= 1
RETURNING tokens;
