-- PostgreSQL's own queries: id lists arrive as text[] and search uses the generated tsvector
-- column. Blocks start with "-- name: <key>"; parameters are :name, rewritten to $n.

-- name: usersByIds
-- Params: :ids (text[]).
SELECT * FROM users WHERE id = ANY(:ids::text[]);

-- name: messagesByIds
-- Params: :ids (text[]).
SELECT id, room_id, seq, sender_id, text, client_message_id, sent_at, edited_at, deleted, change_seq, parent_id, reply_count, last_reply_seq
FROM messages WHERE id = ANY(:ids::text[]);

-- name: reactionsOf
-- Params: :ids (text[] of message ids).
SELECT message_id, emoji, user_id FROM reactions WHERE message_id = ANY(:ids::text[]) ORDER BY created_at, user_id;

-- name: mentionsOf
-- Params: :ids (text[] of message ids).
SELECT message_id, user_id FROM message_mentions WHERE message_id = ANY(:ids::text[]);

-- name: sharingRoomWith
-- Params: :userId :ids (text[]).
SELECT DISTINCT o.user_id FROM room_members m JOIN room_members o ON o.room_id = m.room_id
WHERE m.user_id = :userId AND o.user_id = ANY(:ids::text[]);

-- name: sendersSeenBy
-- Params: :userId :ids. Which of ids wrote a message in a room userId is a member of.
SELECT DISTINCT m.sender_id AS user_id FROM messages m
JOIN room_members rm ON rm.room_id = m.room_id AND rm.user_id = :userId
WHERE m.sender_id = ANY(:ids::text[]);

-- name: blockersOf
-- Params: :userId :ids (text[]). Which of ids have blocked userId.
SELECT blocker_id FROM blocks WHERE blocked_id = :userId AND blocker_id = ANY(:ids::text[]);

-- name: searchMessages
-- Params: :userId :query (a tsquery of prefixes: "thank:* & you:*") :roomId (or null) :limit.
SELECT m.id, m.room_id, m.seq, m.sender_id, m.text, m.client_message_id, m.sent_at, m.edited_at, m.deleted, m.change_seq, m.parent_id, m.reply_count, m.last_reply_seq
FROM messages m
JOIN room_members rm ON rm.room_id = m.room_id AND rm.user_id = :userId
WHERE m.search @@ to_tsquery('simple', :query) AND m.deleted = false
  AND (:roomId::text IS NULL OR m.room_id = :roomId::text)
ORDER BY m.sent_at DESC, m.seq DESC
LIMIT :limit;

-- name: lockMigrations
-- No params. Serializes schema migrations of nodes starting at once (released at commit).
SELECT pg_advisory_xact_lock(736162);

-- name: insertMember
-- Params: :roomId :userId :at. The read marker starts at the room's end. No row back: already a member.
INSERT INTO room_members (room_id, user_id, joined_at, last_read_seq)
SELECT :roomId::text, :userId::text, :at::timestamptz, last_seq FROM rooms WHERE id = :roomId::text
ON CONFLICT DO NOTHING
RETURNING user_id;

-- name: takeRateToken
-- Params: :key :rate (tokens per second) :burst. Refills the bucket by the time passed on the
-- database's clock (one clock for every node), then takes a token when one is there: one row back
-- when taken, none when the bucket is empty. Atomic: the upsert locks the row.
INSERT INTO rate_buckets AS b (key, tokens, at_ms)
VALUES (:key, :burst::double precision - 1, extract(epoch FROM clock_timestamp()) * 1000)
ON CONFLICT (key) DO UPDATE SET
  tokens = LEAST(:burst::double precision, b.tokens + GREATEST(0, extract(epoch FROM clock_timestamp()) * 1000 - b.at_ms) / 1000 * :rate::double precision) - 1,
  at_ms = GREATEST(b.at_ms, extract(epoch FROM clock_timestamp()) * 1000)
WHERE LEAST(:burst::double precision, b.tokens + GREATEST(0, extract(epoch FROM clock_timestamp()) * 1000 - b.at_ms) / 1000 * :rate::double precision) >= 1
RETURNING tokens;
