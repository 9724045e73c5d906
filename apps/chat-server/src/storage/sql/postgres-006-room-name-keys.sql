-- Migration 6 of the PostgreSQL storage: room names unique, case-insensitively, among public rooms
-- and among the rooms one owner creates. name_key is the folded name (storage.ts roomNameKey), set
-- by the storage for ordinary rooms and NULL for direct and support rooms. Rooms that already
-- shared a name keep it: every one but the oldest gets a key of its own (the name plus its id).

ALTER TABLE rooms ADD COLUMN name_key text;
UPDATE rooms SET name_key = lower(trim(name)) WHERE kind = 'room';
UPDATE rooms r SET name_key = r.name_key || ' #' || r.id
WHERE r.kind = 'room' AND EXISTS (
  SELECT 1 FROM rooms o
  WHERE o.kind = 'room' AND o.id <> r.id AND o.name_key = r.name_key
    AND (o.created_at < r.created_at OR (o.created_at = r.created_at AND o.id < r.id))
    AND ((NOT o.is_private AND NOT r.is_private) OR o.owner_id = r.owner_id)
);
CREATE UNIQUE INDEX rooms_public_name ON rooms (name_key) WHERE kind = 'room' AND NOT is_private;
CREATE UNIQUE INDEX rooms_owner_name ON rooms (owner_id, name_key) WHERE kind = 'room';
