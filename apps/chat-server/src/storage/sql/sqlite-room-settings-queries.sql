-- The room settings queries of the SQLite storage (see queries.sql for the format).

-- name: updateRoomSettings
-- Params: :roomId :name :nameKey :topic :isPrivate :archived; NULL keeps a column as it is. No row
-- back: no such room.
UPDATE rooms SET
  name = COALESCE(:name, name),
  name_key = COALESCE(:nameKey, name_key),
  topic = COALESCE(:topic, topic),
  is_private = COALESCE(:isPrivate, is_private),
  archived = COALESCE(:archived, archived)
WHERE id = :roomId
RETURNING id;
