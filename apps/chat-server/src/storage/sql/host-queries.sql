-- The host users' and API keys' queries, the same on both dialects (see queries.sql for the format).

-- name: hostUserById
-- Params: :userId.
SELECT * FROM host_users WHERE user_id = :userId;

-- name: upsertHostUser
-- Params: :userId :issuer :subject :avatarUrl :claimsHash :at.
INSERT INTO host_users (user_id, issuer, subject, avatar_url, claims_hash, updated_at)
VALUES (:userId, :issuer, :subject, :avatarUrl, :claimsHash, :at)
ON CONFLICT (user_id) DO UPDATE SET
  avatar_url = excluded.avatar_url, claims_hash = excluded.claims_hash, updated_at = excluded.updated_at;

-- name: createApiKey
-- Params: :name :keyHash :prefix :at. No row back: the name is taken.
INSERT INTO api_keys (name, key_hash, prefix, created_at) VALUES (:name, :keyHash, :prefix, :at)
ON CONFLICT (name) DO NOTHING
RETURNING name;

-- name: apiKeys
-- No params. Every key, by name.
SELECT name, prefix, created_at, last_used_at FROM api_keys ORDER BY name;

-- name: apiKeyByHash
-- Params: :keyHash.
SELECT name, prefix, created_at, last_used_at FROM api_keys WHERE key_hash = :keyHash;

-- name: touchApiKey
-- Params: :name :at.
UPDATE api_keys SET last_used_at = :at WHERE name = :name;

-- name: revokeApiKey
-- Params: :name.
DELETE FROM api_keys WHERE name = :name;

-- name: supportRequestsByStatus
-- Params: :status :limit. Requests in one state, oldest first.
SELECT s.*, u.display_name AS customer_name
FROM support_requests s LEFT JOIN users u ON u.id = s.customer_id
WHERE s.status = :status ORDER BY s.created_at, s.id LIMIT :limit;
