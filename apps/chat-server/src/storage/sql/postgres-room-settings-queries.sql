-- The room settings queries of the PostgreSQL storage (see queries.sql for the format).

-- name: updateRoomSettings
-- Params: :roomId :name :nameKey :topic :isPrivate :archived; NULL keeps a column as it is. No row
-- back: no such room.
UPDATE rooms SET
  name = COALESCE(:name::text, name),
  name_key = COALESCE(:nameKey::text, name_key),
  topic = COALESCE(:topic::text, topic),
  is_private = COALESCE(:isPrivate::boolean, is_private),
  archived = COALESCE(:archived::boolean, archived)
WHERE id = :roomId
RETURNING id;
