-- Queries shared by the SQLite and PostgreSQL storages. Each block starts with "-- name: <key>";
-- parameters are written :name (SQLite binds them natively; storage/sql-files.ts rewrites them to
-- $1, $2 … for PostgreSQL). A dialect's own file (sqlite-queries.sql, postgres-queries.sql)
-- overrides or adds blocks. Booleans compare with true/false, which both dialects accept.

-- name: insertSettingIfAbsent
-- Params: :key :value. First writer wins.
INSERT INTO settings (key, value) VALUES (:key, :value) ON CONFLICT (key) DO NOTHING;

-- name: settingByKey
-- Params: :key.
SELECT value FROM settings WHERE key = :key;

-- name: insertUser
-- Params: :id :username :displayName :passwordHash :role :isGuest :createdAt. No row back: the username is taken.
INSERT INTO users (id, username, display_name, password_hash, role, is_guest, created_at)
VALUES (:id, :username, :displayName, :passwordHash, :role, :isGuest, :createdAt)
ON CONFLICT (username) DO NOTHING
RETURNING id;

-- name: userById
-- Params: :id.
SELECT * FROM users WHERE id = :id;

-- name: userByUsername
-- Params: :username (lower-case).
SELECT * FROM users WHERE username = :username;

-- name: searchUsers
-- Params: :pattern (lower-case LIKE pattern with \ escapes) :limit. Guests are never listed.
SELECT * FROM users
WHERE is_guest = false AND (username LIKE :pattern ESCAPE '\' OR lower(display_name) LIKE :pattern ESCAPE '\')
ORDER BY username
LIMIT :limit;

-- name: setPassword
-- Params: :id :passwordHash. Bumps the token version, so older tokens stop working.
UPDATE users SET password_hash = :passwordHash, token_version = token_version + 1 WHERE id = :id RETURNING token_version;

-- name: setRole
-- Params: :id :role.
UPDATE users SET role = :role WHERE id = :id;

-- name: setLastSeen
-- Params: :id :at.
UPDATE users SET last_seen_at = :at WHERE id = :id;

-- name: agents
-- No params.
SELECT * FROM users WHERE role = 'agent' ORDER BY username;

-- name: revokeToken
-- Params: :jti :expiresAt (ms since the epoch).
INSERT INTO revoked_tokens (jti, expires_at) VALUES (:jti, :expiresAt) ON CONFLICT (jti) DO NOTHING;

-- name: purgeRevokedTokens
-- Params: :now (ms). Forgets revocations of tokens that have expired anyway.
DELETE FROM revoked_tokens WHERE expires_at < :now;

-- name: tokenRevoked
-- Params: :jti.
SELECT 1 AS revoked FROM revoked_tokens WHERE jti = :jti;

-- name: insertRoom
-- Params: :id :name :nameKey :isPrivate :kind :ownerId :directKey :createdAt. No row back: the direct
-- key exists, or (ordinary rooms) the name key is taken among public rooms or the owner's rooms.
INSERT INTO rooms (id, name, name_key, is_private, kind, owner_id, direct_key, created_at, last_activity_at)
VALUES (:id, :name, :nameKey, :isPrivate, :kind, :ownerId, :directKey, :createdAt, :createdAt)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: insertMember
-- Params: :roomId :userId :at. The read marker starts at the room's end. No row back: already a member.
INSERT INTO room_members (room_id, user_id, joined_at, last_read_seq)
SELECT :roomId, :userId, :at, last_seq FROM rooms WHERE id = :roomId
ON CONFLICT DO NOTHING
RETURNING user_id;

-- name: deleteMember
-- Params: :roomId :userId.
DELETE FROM room_members WHERE room_id = :roomId AND user_id = :userId RETURNING user_id;

-- name: isMember
-- Params: :roomId :userId.
SELECT 1 AS member FROM room_members WHERE room_id = :roomId AND user_id = :userId;

-- name: roomById
-- Params: :id.
SELECT id, name, is_private, kind, owner_id, last_seq, topic, archived FROM rooms WHERE id = :id;

-- name: directRoomByKey
-- Params: :directKey.
SELECT id, name, is_private, kind, owner_id, last_seq, topic, archived FROM rooms WHERE direct_key = :directKey;

-- name: supportRoomOf
-- Params: :customerId.
SELECT id, name, is_private, kind, owner_id, last_seq, topic, archived FROM rooms WHERE owner_id = :customerId AND kind = 'support';

-- name: publicRooms
-- Params: :limit.
SELECT id, name, is_private, kind, owner_id, last_seq, topic, archived FROM rooms
WHERE is_private = false AND kind = 'room' AND archived = false
ORDER BY name, id
LIMIT :limit;

-- name: roomMemberCounts
-- Params: :limit. The admin view: rooms with the most members first, each with its member count.
SELECT r.id, r.name, r.is_private, r.kind, r.owner_id, r.last_seq, r.topic, r.archived,
  (SELECT COUNT(*) FROM room_members m WHERE m.room_id = r.id) AS members
FROM rooms r
ORDER BY members DESC, r.name, r.id
LIMIT :limit;

-- name: countRooms
-- The admin view: every room (ordinary, direct and support).
SELECT COUNT(*) AS n FROM rooms;

-- name: publicRoomByNameKey
-- Params: :nameKey. Which clash refused a room: a public room of that name.
SELECT id FROM rooms WHERE kind = 'room' AND is_private = false AND name_key = :nameKey;

-- name: countOwnedRooms
-- Params: :userId. Ordinary rooms only (not direct, not support).
SELECT COUNT(*) AS n FROM rooms WHERE owner_id = :userId AND kind = 'room';

-- name: roomMembers
-- Params: :roomId.
SELECT u.* FROM room_members m JOIN users u ON u.id = m.user_id WHERE m.room_id = :roomId ORDER BY u.username;

-- name: memberIds
-- Params: :roomId.
SELECT user_id FROM room_members WHERE room_id = :roomId;

-- name: roomIdsOf
-- Params: :userId.
SELECT room_id FROM room_members WHERE user_id = :userId;

-- name: roomSummaries
-- Params: :userId. Unread: other people's messages after the marker that are not deleted.
SELECT r.id, r.name, r.is_private, r.kind, r.owner_id, r.last_seq, r.topic, r.archived, m.last_read_seq,
  (SELECT COUNT(*) FROM messages x
    WHERE x.room_id = r.id AND x.seq > m.last_read_seq AND x.sender_id <> m.user_id AND x.deleted = false) AS unread_count,
  (SELECT COUNT(*) FROM message_mentions mm
    WHERE mm.room_id = r.id AND mm.user_id = m.user_id AND mm.seq > m.last_read_seq) AS mention_count,
  (SELECT x.id FROM messages x WHERE x.room_id = r.id ORDER BY x.seq DESC LIMIT 1) AS last_message_id
FROM room_members m JOIN rooms r ON r.id = m.room_id
WHERE m.user_id = :userId
ORDER BY r.last_activity_at DESC, r.id;

-- name: readState
-- Params: :roomId :userId. The same counts as roomSummaries, for one room.
SELECT m.last_read_seq,
  (SELECT COUNT(*) FROM messages x
    WHERE x.room_id = m.room_id AND x.seq > m.last_read_seq AND x.sender_id <> m.user_id AND x.deleted = false) AS unread_count,
  (SELECT COUNT(*) FROM message_mentions mm
    WHERE mm.room_id = m.room_id AND mm.user_id = m.user_id AND mm.seq > m.last_read_seq) AS mention_count
FROM room_members m
WHERE m.room_id = :roomId AND m.user_id = :userId;

-- name: advanceReadMarker
-- Params: :roomId :userId :seq. Never moves the marker back.
UPDATE room_members SET last_read_seq = :seq WHERE room_id = :roomId AND user_id = :userId AND last_read_seq < :seq;

-- name: contactsOf
-- Params: :userId.
SELECT DISTINCT o.user_id FROM room_members m JOIN room_members o ON o.room_id = m.room_id
WHERE m.user_id = :userId AND o.user_id <> :userId;

-- name: messageBySenderClientId
-- Params: :roomId :senderId :clientMessageId. Unique per room and sender.
SELECT id, room_id, seq, sender_id, text, client_message_id, sent_at, edited_at, deleted, change_seq, parent_id, reply_count, last_reply_seq
FROM messages WHERE room_id = :roomId AND sender_id = :senderId AND client_message_id = :clientMessageId;

-- name: nextSeq
-- Params: :roomId :at. Takes the room's row lock until the transaction ends: the gap-free sequence.
UPDATE rooms SET last_seq = last_seq + 1, last_activity_at = :at WHERE id = :roomId RETURNING last_seq;

-- name: insertMessage
-- Params: :id :roomId :seq :senderId :text :clientMessageId :sentAt :parentId. No row back: a duplicate clientMessageId.
INSERT INTO messages (id, room_id, seq, sender_id, text, client_message_id, sent_at, parent_id)
VALUES (:id, :roomId, :seq, :senderId, :text, :clientMessageId, :sentAt, :parentId)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: insertMention
-- Params: :messageId :userId :roomId :seq.
INSERT INTO message_mentions (message_id, user_id, room_id, seq) VALUES (:messageId, :userId, :roomId, :seq)
ON CONFLICT DO NOTHING;

-- name: deleteMentions
-- Params: :messageId.
DELETE FROM message_mentions WHERE message_id = :messageId;

-- name: messageById
-- Params: :id.
SELECT id, room_id, seq, sender_id, text, client_message_id, sent_at, edited_at, deleted, change_seq, parent_id, reply_count, last_reply_seq FROM messages WHERE id = :id;

-- name: updateMessageText
-- Params: :id :text :editedAt.
UPDATE messages SET text = :text, edited_at = :editedAt WHERE id = :id;

-- name: markMessageDeleted
-- Params: :id. The row keeps its seq; the text is gone.
UPDATE messages SET text = '', deleted = true WHERE id = :id;

-- name: deleteReactionsOf
-- Params: :messageId.
DELETE FROM reactions WHERE message_id = :messageId;

-- name: deleteReaction
-- Params: :messageId :userId :emoji.
DELETE FROM reactions WHERE message_id = :messageId AND user_id = :userId AND emoji = :emoji RETURNING emoji;

-- name: insertReaction
-- Params: :messageId :userId :emoji :at.
INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (:messageId, :userId, :emoji, :at)
ON CONFLICT DO NOTHING;

-- name: addReply
-- Params: :parentId :seq. One more reply in the thread of parentId, the newest at seq.
UPDATE messages SET reply_count = reply_count + 1, last_reply_seq = :seq WHERE id = :parentId;

-- name: threadReplies
-- Params: :parentId :afterSeq :limit. A thread's replies after afterSeq, in order.
SELECT id, room_id, seq, sender_id, text, client_message_id, sent_at, edited_at, deleted, change_seq, parent_id, reply_count, last_reply_seq FROM messages
WHERE parent_id = :parentId AND seq > :afterSeq
ORDER BY seq ASC
LIMIT :limit;

-- name: threadRead
-- Params: :parentId :userId. The user's read marker in the thread; no row: never read.
SELECT last_read_seq FROM thread_reads WHERE parent_id = :parentId AND user_id = :userId;

-- name: threadReadsOf
-- Params: :roomId :userId. The user's read markers in the room's threads.
SELECT parent_id, last_read_seq FROM thread_reads WHERE room_id = :roomId AND user_id = :userId;

-- name: advanceThreadRead
-- Params: :parentId :userId :roomId :seq. Never moves the marker back.
INSERT INTO thread_reads (parent_id, user_id, room_id, last_read_seq) VALUES (:parentId, :userId, :roomId, :seq)
ON CONFLICT (parent_id, user_id) DO UPDATE SET last_read_seq = excluded.last_read_seq
WHERE thread_reads.last_read_seq < excluded.last_read_seq;

-- name: distinctOtherEmoji
-- Params: :messageId :emoji. How many other emoji the message carries, and whether it carries this one.
SELECT COUNT(DISTINCT CASE WHEN emoji <> :emoji THEN emoji END) AS others,
  COUNT(CASE WHEN emoji = :emoji THEN 1 END) AS this_one
FROM reactions WHERE message_id = :messageId;

-- name: historyDescending
-- Params: :roomId :afterSeq :beforeSeq :limit. The newest page below beforeSeq (the caller reverses it).
SELECT id, room_id, seq, sender_id, text, client_message_id, sent_at, edited_at, deleted, change_seq, parent_id, reply_count, last_reply_seq FROM messages
WHERE room_id = :roomId AND seq > :afterSeq AND seq < :beforeSeq
ORDER BY seq DESC
LIMIT :limit;

-- name: historyAscending
-- Params: :roomId :afterSeq :beforeSeq :limit. What came after afterSeq, in order.
SELECT id, room_id, seq, sender_id, text, client_message_id, sent_at, edited_at, deleted, change_seq, parent_id, reply_count, last_reply_seq FROM messages
WHERE room_id = :roomId AND seq > :afterSeq AND seq < :beforeSeq
ORDER BY seq ASC
LIMIT :limit;

-- name: insertBlock
-- Params: :blockerId :blockedId :at.
INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (:blockerId, :blockedId, :at) ON CONFLICT DO NOTHING;

-- name: deleteBlock
-- Params: :blockerId :blockedId.
DELETE FROM blocks WHERE blocker_id = :blockerId AND blocked_id = :blockedId;

-- name: insertSupportRequest
-- Params: :id :customerId :roomId :subject :createdAt.
INSERT INTO support_requests (id, customer_id, room_id, subject, status, agent_id, created_at, updated_at)
VALUES (:id, :customerId, :roomId, :subject, 'open', NULL, :createdAt, :createdAt);

-- name: supportRequestById
-- Params: :id. With the customer's display name (agents see it in the queue before claiming).
SELECT s.*, u.display_name AS customer_name
FROM support_requests s LEFT JOIN users u ON u.id = s.customer_id WHERE s.id = :id;

-- name: activeSupportRequestOf
-- Params: :customerId.
SELECT s.*, u.display_name AS customer_name
FROM support_requests s LEFT JOIN users u ON u.id = s.customer_id
WHERE s.customer_id = :customerId AND s.status <> 'closed' ORDER BY s.created_at DESC LIMIT 1;

-- name: supportQueue
-- No params. Open and assigned requests, oldest first.
SELECT s.*, u.display_name AS customer_name
FROM support_requests s LEFT JOIN users u ON u.id = s.customer_id
WHERE s.status <> 'closed' ORDER BY s.created_at, s.id;

-- name: claimSupportRequest
-- Params: :id :agentId :capacity :at. One conditional update: of concurrent claims exactly one matches.
UPDATE support_requests SET status = 'assigned', agent_id = :agentId, updated_at = :at
WHERE id = :id AND status = 'open'
  AND (SELECT COUNT(*) FROM support_requests a WHERE a.agent_id = :agentId AND a.status = 'assigned') < :capacity
RETURNING id;

-- name: transferSupportRequest
-- Params: :id :fromAgentId :toAgentId :capacity :at.
UPDATE support_requests SET agent_id = :toAgentId, updated_at = :at
WHERE id = :id AND status = 'assigned' AND agent_id = :fromAgentId
  AND (SELECT COUNT(*) FROM support_requests a WHERE a.agent_id = :toAgentId AND a.status = 'assigned') < :capacity
RETURNING id;

-- name: requeueSupportRequest
-- Params: :id :agentId :at. Back to the queue only if still assigned to that agent.
UPDATE support_requests SET status = 'open', agent_id = NULL, updated_at = :at
WHERE id = :id AND status = 'assigned' AND agent_id = :agentId
RETURNING id;

-- name: closeSupportRequest
-- Params: :id :at.
UPDATE support_requests SET status = 'closed', closed_at = :at, updated_at = :at WHERE id = :id AND status <> 'closed' RETURNING id;

-- name: assignedCount
-- Params: :agentId.
SELECT COUNT(*) AS n FROM support_requests WHERE agent_id = :agentId AND status = 'assigned';

-- name: nextChange
-- Params: :roomId. Takes the room's row lock until the transaction ends: the gap-free change
-- numbers, committed in order.
UPDATE rooms SET last_change = last_change + 1 WHERE id = :roomId RETURNING last_change;

-- name: insertChange
-- Params: :roomId :changeSeq :messageId :seq :kind :at.
INSERT INTO room_changes (room_id, change_seq, message_id, seq, kind, at)
VALUES (:roomId, :changeSeq, :messageId, :seq, :kind, :at);

-- name: setMessageChange
-- Params: :messageId :changeSeq.
UPDATE messages SET change_seq = :changeSeq WHERE id = :messageId;

-- name: purgeChanges
-- Params: :roomId :before. Forgets a room's changes older than the retention.
DELETE FROM room_changes WHERE room_id = :roomId AND at < :before;

-- name: roomPosition
-- Params: :roomId. The room's newest seq, its change counter and its oldest kept change.
SELECT r.last_seq, r.last_change,
  (SELECT MIN(c.change_seq) FROM room_changes c WHERE c.room_id = r.id) AS oldest_change
FROM rooms r WHERE r.id = :roomId;

-- name: changesAfter
-- Params: :roomId :since :limit. The room's changes after a cursor, in order.
SELECT change_seq, message_id FROM room_changes
WHERE room_id = :roomId AND change_seq > :since
ORDER BY change_seq
LIMIT :limit;

-- name: loginBlockedUntil
-- Params: :key. When the key may try again (ms since the epoch); no row: never failed.
SELECT blocked_until_ms FROM login_failures WHERE key = :key;

-- name: addLoginFailure
-- Params: :key :now :staleBefore (ms). One more failure; a count last touched before staleBefore
-- starts again at 1. Returns the new count.
INSERT INTO login_failures AS f (key, failures, blocked_until_ms, updated_ms) VALUES (:key, 1, 0, :now)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN f.updated_ms < :staleBefore THEN 1 ELSE f.failures + 1 END,
  updated_ms = :now
RETURNING failures;

-- name: purgeLoginFailures
-- Params: :staleBefore :now (ms). Forgets counts nobody touched since staleBefore and not blocked
-- any more (names a guesser tried once stay for a day at most).
DELETE FROM login_failures WHERE updated_ms < :staleBefore AND blocked_until_ms < :now;

-- name: blockLogin
-- Params: :key :until (ms).
UPDATE login_failures SET blocked_until_ms = :until WHERE key = :key;

-- name: clearLoginFailures
-- Params: :key.
DELETE FROM login_failures WHERE key = :key;

-- name: rememberLoginAddress
-- Params: :userId :addressHash :now (ms).
INSERT INTO login_addresses (user_id, address_hash, last_login_ms) VALUES (:userId, :addressHash, :now)
ON CONFLICT (user_id, address_hash) DO UPDATE SET last_login_ms = :now;

-- name: isKnownLoginAddress
-- Params: :userId :addressHash :since (ms). One row when the user signed in from there since then.
SELECT 1 AS known FROM login_addresses
WHERE user_id = :userId AND address_hash = :addressHash AND last_login_ms >= :since;
