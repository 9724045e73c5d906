-- Migration 6 of the SQLite storage: room names unique, case-insensitively, among public rooms and
-- among the rooms one owner creates. name_key is the folded name (storage.ts roomNameKey), set by
-- the storage for ordinary rooms and NULL for direct and support rooms. Rooms that already shared
-- a name keep it: every one but the oldest gets a key of its own (the name plus its id).

ALTER TABLE rooms ADD COLUMN name_key TEXT;
UPDATE rooms SET name_key = lower(trim(name)) WHERE kind = 'room';
UPDATE rooms SET name_key = name_key || ' #' || id
WHERE kind = 'room' AND EXISTS (
  SELECT 1 FROM rooms o
  WHERE o.kind = 'room' AND o.id <> rooms.id AND o.name_key = rooms.name_key
    AND (o.created_at < rooms.created_at OR (o.created_at = rooms.created_at AND o.id < rooms.id))
    AND ((o.is_private = 0 AND rooms.is_private = 0) OR o.owner_id = rooms.owner_id)
);
CREATE UNIQUE INDEX rooms_public_name ON rooms (name_key) WHERE kind = 'room' AND is_private = 0;
CREATE UNIQUE INDEX rooms_owner_name ON rooms (owner_id, name_key) WHERE kind = 'room';
