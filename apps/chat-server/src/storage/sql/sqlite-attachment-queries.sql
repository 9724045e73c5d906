-- The attachment queries of the SQLite storage (see queries.sql for the format).

-- name: insertAttachment
-- Params: :id :roomId :uploaderId :name :contentType :inline :size :createdAt.
INSERT INTO attachments (id, room_id, uploader_id, name, content_type, inline, size, created_at)
VALUES (:id, :roomId, :uploaderId, :name, :contentType, :inline, :size, :createdAt);

-- name: attachmentById
-- Params: :id.
SELECT id, room_id, uploader_id, message_id, name, content_type, inline, size, created_at
FROM attachments WHERE id = :id;

-- name: attachmentBytesSince
-- Params: :uploaderId :since. What the user uploaded since then, in bytes.
SELECT COALESCE(SUM(size), 0) AS n FROM attachments WHERE uploader_id = :uploaderId AND created_at > :since;

-- name: attachToMessage
-- Params: :ids (JSON array) :messageId :roomId :uploaderId. Only the uploader's files of that room
-- that no message took yet; each takes its place in :ids as its position.
UPDATE attachments SET message_id = :messageId,
  position = (SELECT key FROM json_each(:ids) WHERE value = attachments.id)
WHERE id IN (SELECT value FROM json_each(:ids)) AND room_id = :roomId AND uploader_id = :uploaderId
  AND message_id IS NULL
RETURNING id;

-- name: attachmentsOf
-- Params: :ids (JSON array of message ids).
SELECT id, room_id, uploader_id, message_id, name, content_type, inline, size, created_at
FROM attachments WHERE message_id IN (SELECT value FROM json_each(:ids)) ORDER BY position, created_at, id;

-- name: deleteAttachmentsOfMessage
-- Params: :messageId.
DELETE FROM attachments WHERE message_id = :messageId RETURNING id;

-- name: deleteUnattachedBefore
-- Params: :before. Uploads no message took.
DELETE FROM attachments WHERE message_id IS NULL AND created_at < :before RETURNING id;
