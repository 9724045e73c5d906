/**
 * The Lua scripts of the {@link RedisPresenceStore}. Every transition (a user's first connection, a
 * last one gone, a grace period run out, a dead node swept) is decided inside one script, so Redis
 * runs it atomically and exactly one node announces it.
 *
 * Common to every write script: KEYS none (every key is derived from the prefix, so the store needs
 * one Redis instance, or a hash-tagged prefix such as `{sb}:` on a cluster); ARGV[1] the key
 * prefix, ARGV[2] the event log's length, ARGV[3] graceMs, ARGV[4] the calling node's id; the
 * script-specific arguments follow from ARGV[5]. Time is Redis time (`TIME`), so grace and lease
 * never depend on the nodes' clocks.
 *
 * Keys under the prefix P:
 * - `P lease:<node>`    string, the node's lease token, with a PX expiry renewed by its heartbeat
 * - `P nodes`           set of node ids that hold (or held) a lease: what a sweep looks at
 * - `P nconns:<node>`   set of the node's connection ids
 * - `P conn:<id>`       hash user, node, json (the PresenceConnection as JSON)
 * - `P cgroups:<id>`    set of the connection's groups
 * - `P uconns:<user>`   sorted set of the user's connection ids, scored by arrival (`P cseq`)
 * - `P group:<g>`       set of the group's connection ids
 * - `P gusers:<g>`      hash user → how many of the user's connections are in the group
 * - `P online`          set of online users (within the grace period included)
 * - `P pending`         sorted set user → when the user's offline falls due (Redis ms)
 * - `P pendinginfo`     hash user → `<last seen ms>|<origin node or empty>`
 * - `P epoch`           the event numbering's epoch (created again after a flush)
 * - `P seq`             the last event number of the epoch
 * - `P log`             stream of the recent events, entry id `0-<seq>`, field `ev`
 * - channel `P events`  every event as JSON {e epoch, s seq, t type, u user, a at, o origin}
 * - channel `P ctl:<node>` changes made by another node to the node's own connections
 * @module
 */

const prelude = `
local P = ARGV[1]
local MAXLEN = tonumber(ARGV[2])
local GRACE = tonumber(ARGV[3])
local NODE = ARGV[4]
local T = redis.call('TIME')
local NOW = tonumber(T[1]) * 1000 + math.floor(tonumber(T[2]) / 1000)
local OUT = {}
local EPOCH = redis.call('GET', P .. 'epoch')
if not EPOCH then
  EPOCH = T[1] .. string.rep('0', 6 - #T[2]) .. T[2]
  redis.call('SET', P .. 'epoch', EPOCH)
end

local function emit(kind, user, at, origin)
  local seq = redis.call('INCR', P .. 'seq')
  local ev = cjson.encode({e = EPOCH, s = seq, t = kind, u = user, a = at, o = origin})
  redis.call('XADD', P .. 'log', 'MAXLEN', '~', MAXLEN, '0-' .. seq, 'ev', ev)
  redis.call('PUBLISH', P .. 'events', ev)
  OUT[#OUT + 1] = ev
end

local function join_group(cid, user, g)
  if redis.call('SADD', P .. 'cgroups:' .. cid, g) == 1 then
    redis.call('SADD', P .. 'group:' .. g, cid)
    redis.call('HINCRBY', P .. 'gusers:' .. g, user, 1)
  end
end

local function leave_group(cid, user, g)
  redis.call('SREM', P .. 'group:' .. g, cid)
  if redis.call('HINCRBY', P .. 'gusers:' .. g, user, -1) <= 0 then
    redis.call('HDEL', P .. 'gusers:' .. g, user)
  end
end

-- Removes a connection; the user's last one starts the grace period. origin '' (a sweep, a node
-- closing) leaves the decision to whichever live node claims the due offline.
local function drop(cid, origin)
  local ck = P .. 'conn:' .. cid
  local f = redis.call('HMGET', ck, 'user', 'node')
  local user, node = f[1], f[2]
  if not user then return false end
  local gk = P .. 'cgroups:' .. cid
  for _, g in ipairs(redis.call('SMEMBERS', gk)) do leave_group(cid, user, g) end
  redis.call('DEL', gk, ck)
  redis.call('SREM', P .. 'nconns:' .. node, cid)
  local uk = P .. 'uconns:' .. user
  redis.call('ZREM', uk, cid)
  if redis.call('EXISTS', uk) == 0 and redis.call('SISMEMBER', P .. 'online', user) == 1 then
    if GRACE <= 0 and origin ~= '' then
      redis.call('SREM', P .. 'online', user)
      emit('userOffline', user, NOW, origin)
    else
      redis.call('ZADD', P .. 'pending', NOW + GRACE, user)
      redis.call('HSET', P .. 'pendinginfo', user, NOW .. '|' .. origin)
    end
  end
  return node
end

-- Adds (or updates) a connection of NODE; the user's first one anywhere announces userOnline,
-- unless silent (a node re-asserting after a flush: its users were online already).
local function add(cid, user, json, silent)
  local ck = P .. 'conn:' .. cid
  local f = redis.call('HMGET', ck, 'user', 'node')
  local olduser, oldnode = f[1], f[2]
  if olduser and olduser ~= user then
    drop(cid, NODE)
    oldnode = false
  end
  if oldnode and oldnode ~= NODE then redis.call('SREM', P .. 'nconns:' .. oldnode, cid) end
  redis.call('HSET', ck, 'user', user, 'node', NODE, 'json', json)
  redis.call('SADD', P .. 'nconns:' .. NODE, cid)
  local uk = P .. 'uconns:' .. user
  if not redis.call('ZSCORE', uk, cid) then
    redis.call('ZADD', uk, redis.call('INCR', P .. 'cseq'), cid)
  end
  redis.call('ZREM', P .. 'pending', user)
  redis.call('HDEL', P .. 'pendinginfo', user)
  if redis.call('SADD', P .. 'online', user) == 1 and not silent then
    emit('userOnline', user, NOW, NODE)
  end
end

-- Sweeps every node whose lease ran out, once: the SREM under the script's atomicity is the claim.
local function sweep()
  for _, n in ipairs(redis.call('SMEMBERS', P .. 'nodes')) do
    if redis.call('EXISTS', P .. 'lease:' .. n) == 0 then
      redis.call('SREM', P .. 'nodes', n)
      for _, cid in ipairs(redis.call('SMEMBERS', P .. 'nconns:' .. n)) do drop(cid, '') end
      redis.call('DEL', P .. 'nconns:' .. n)
    end
  end
end

-- Claims the offlines whose grace ran out and announces them, once. The origin is the removing
-- node while its lease holds, else the claiming node.
local function fire_due()
  local due = redis.call('ZRANGEBYSCORE', P .. 'pending', '-inf', NOW)
  for _, user in ipairs(due) do
    redis.call('ZREM', P .. 'pending', user)
    local info = redis.call('HGET', P .. 'pendinginfo', user) or (NOW .. '|')
    redis.call('HDEL', P .. 'pendinginfo', user)
    if redis.call('EXISTS', P .. 'uconns:' .. user) == 0
      and redis.call('SREM', P .. 'online', user) == 1 then
      local sep = string.find(info, '|', 1, true)
      local at = tonumber(string.sub(info, 1, sep - 1))
      local origin = string.sub(info, sep + 1)
      if origin == '' or redis.call('EXISTS', P .. 'lease:' .. origin) == 0 then origin = NODE end
      emit('userOffline', user, at, origin)
    end
  end
end

-- Milliseconds until the next offline falls due, or -1.
local function next_due()
  local first = redis.call('ZRANGE', P .. 'pending', 0, 0, 'WITHSCORES')
  if first[2] then return math.max(0, tonumber(first[2]) - NOW) end
  return -1
end

local function head()
  return tonumber(redis.call('GET', P .. 'seq') or '0')
end
`;

/** The source of one write script: the prelude, then its body. */
const script = (body: string): string => `${prelude}\n${body}`;

/**
 * addConnection. ARGV[5] connection id, ARGV[6] user id, ARGV[7] connection JSON, ARGV[8] lease
 * token. Returns {1, events}, or {0, {}} without adding when the lease is no longer this node's (a
 * flush, a stall): the node then re-asserts everything, this connection included.
 */
export const addScript = script(`
if redis.call('GET', P .. 'lease:' .. NODE) ~= ARGV[8] then return {0, OUT} end
add(ARGV[5], ARGV[6], ARGV[7], false)
return {1, OUT}
`);

/**
 * removeConnection (from any node). ARGV[5] connection id. Tells the owner when it is another node.
 * Returns {events, ms until the next due offline or -1}.
 */
export const removeScript = script(`
local owner = drop(ARGV[5], NODE)
if owner and owner ~= NODE then
  redis.call('PUBLISH', P .. 'ctl:' .. owner, cjson.encode({'rm', ARGV[5]}))
end
return {OUT, next_due()}
`);

/**
 * addToGroup / removeFromGroup (from any node). ARGV[5] connection id, ARGV[6] group, ARGV[7] '1'
 * to add, '0' to remove. No effect for an unknown connection. Returns 1 if the connection exists.
 */
export const groupScript = script(`
local cid, g = ARGV[5], ARGV[6]
local f = redis.call('HMGET', P .. 'conn:' .. cid, 'user', 'node')
local user, owner = f[1], f[2]
if not user then return 0 end
if ARGV[7] == '1' then
  join_group(cid, user, g)
elseif redis.call('SREM', P .. 'cgroups:' .. cid, g) == 1 then
  leave_group(cid, user, g)
end
if owner ~= NODE then
  redis.call('PUBLISH', P .. 'ctl:' .. owner, cjson.encode({ARGV[7] == '1' and 'ga' or 'gr', cid, g}))
end
return 1
`);

/**
 * The heartbeat. ARGV[5] lease token, ARGV[6] leaseMs. While the lease is ours: renews it, sweeps
 * dead nodes, claims due offlines. Returns {lease ours 1/0, epoch, last event number, events, ms
 * until the next due offline or -1}.
 */
export const heartbeatScript = script(`
local ok = 0
if redis.call('GET', P .. 'lease:' .. NODE) == ARGV[5] then
  redis.call('PEXPIRE', P .. 'lease:' .. NODE, ARGV[6])
  redis.call('SADD', P .. 'nodes', NODE)
  ok = 1
  sweep()
  fire_due()
end
return {ok, EPOCH, head(), OUT, next_due()}
`);

/**
 * Joins the cluster, or re-asserts the node after its lease was lost (a Redis restart or flush, a
 * stall long enough to be swept). ARGV[5] lease token, ARGV[6] leaseMs, ARGV[7] the epoch of the
 * node's last lease ('' at start), ARGV[8] JSON {c: [[id, user, json, [groups]]], u: [users the node
 * knows online]}. Makes Redis hold exactly the node's connections (a previous process's leftovers
 * go). In a new epoch (a flush), re-asserted users the node knew online are online silently, and users known online with
 * no connection left get an offline due after lease + grace, unless some node re-asserts them.
 * Returns {epoch, last event number, events, ms until the next due offline or -1}.
 */
export const assertScript = script(`
local LEASE = tonumber(ARGV[6])
redis.call('SET', P .. 'lease:' .. NODE, ARGV[5], 'PX', LEASE)
redis.call('SADD', P .. 'nodes', NODE)
local silent = ARGV[7] ~= EPOCH
local state = cjson.decode(ARGV[8])
local keep, known = {}, {}
for _, c in ipairs(state.c) do keep[c[1]] = true end
for _, u in ipairs(state.u) do known[u] = true end
for _, cid in ipairs(redis.call('SMEMBERS', P .. 'nconns:' .. NODE)) do
  if not keep[cid] then drop(cid, NODE) end
end
for _, c in ipairs(state.c) do
  local existed = redis.call('EXISTS', P .. 'conn:' .. c[1]) == 1
  add(c[1], c[2], c[3], silent and known[c[2]] == true)
  if not existed then
    for _, g in ipairs(c[4]) do join_group(c[1], c[2], g) end
  end
end
if silent and ARGV[7] ~= '' then
  for _, user in ipairs(state.u) do
    if redis.call('EXISTS', P .. 'uconns:' .. user) == 0
      and redis.call('SADD', P .. 'online', user) == 1 then
      redis.call('ZADD', P .. 'pending', NOW + GRACE + LEASE, user)
      redis.call('HSET', P .. 'pendinginfo', user, NOW .. '|')
    end
  end
end
sweep()
fire_due()
return {EPOCH, head(), OUT, next_due()}
`);

/**
 * close. ARGV[5] lease token. Removes the node's connections (their offlines are decided by the
 * nodes that remain) and gives the lease up, unless another process holds the node id now.
 * Returns the events (none: every offline waits for its grace).
 */
export const closeScript = script(`
local holder = redis.call('GET', P .. 'lease:' .. NODE)
if not holder or holder == ARGV[5] then
  for _, cid in ipairs(redis.call('SMEMBERS', P .. 'nconns:' .. NODE)) do drop(cid, '') end
  redis.call('DEL', P .. 'nconns:' .. NODE)
  redis.call('SREM', P .. 'nodes', NODE)
  if holder then redis.call('DEL', P .. 'lease:' .. NODE) end
end
return OUT
`);

/**
 * The JSON of connections, read in one step. KEYS none; ARGV[1] prefix, ARGV[2] 'user' or 'group',
 * ARGV[3] the user id or group name. Returns the JSON strings (a user's oldest first).
 */
export const readConnectionsScript = `
local P = ARGV[1]
local ids
if ARGV[2] == 'user' then
  ids = redis.call('ZRANGE', P .. 'uconns:' .. ARGV[3], 0, -1)
else
  ids = redis.call('SMEMBERS', P .. 'group:' .. ARGV[3])
end
local out = {}
for _, cid in ipairs(ids) do
  local json = redis.call('HGET', P .. 'conn:' .. cid, 'json')
  if json then out[#out + 1] = json end
end
return out
`;
