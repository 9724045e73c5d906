/**
 * The backplane's server-side Lua, kept as string constants (no build copy step needed) and loaded
 * with ioredis `defineCommand` (EVALSHA, falling back to EVAL once per connection).
 * @module
 */

/**
 * Appends one envelope to a channel's replay log and publishes it, atomically, so that every
 * message on the live path is also in the log and the logs' order is the publish order.
 *
 * KEYS[1]  the channel's stream (replay log)
 * ARGV[1]  the pub/sub channel
 * ARGV[2]  the envelope bytes
 * ARGV[3]  maxLen: the stream is trimmed to about this many entries (XADD MAXLEN ~)
 * ARGV[4]  maxAgeMs: entries older than this are trimmed (XTRIM MINID ~), and an idle stream
 *          expires after this long (everything in it would be older anyway)
 *
 * The entry holds the envelope (field p) and the previous entry's id (field v), so that a replay can
 * tell entries that were trimmed away. Publishes `<id>|<prevId>|<envelope>` where `id` is the new entry's stream id and `prevId` the id
 * of the entry before it ('' when the log was empty), so that a receiver can tell a gap.
 * Returns { id, number of subscribers that received the message }.
 */
export const PUBLISH_SCRIPT = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = ''
if #last > 0 then prev = last[1][1] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'p', ARGV[2], 'v', prev)
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local minId = nowMs - tonumber(ARGV[4])
if minId > 0 then redis.call('XTRIM', KEYS[1], 'MINID', '~', tostring(minId)) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local receivers = redis.call('PUBLISH', ARGV[1], id .. '|' .. prev .. '|' .. ARGV[2])
return { id, receivers }
`;
