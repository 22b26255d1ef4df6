//! The Lua scripts that keep one order of sends across nodes, and their history, in Redis.
//! Each runs atomically, so the order in which Redis numbers sends is the order in which it
//! publishes them, and every node receives them in it.

/// A send to a topic that keeps a history (or, with `count` 0, one that does not, still
/// numbered in the one order): number it, keep it, publish it.
///
/// KEYS: sequence, epoch, the topic's stream, trimmed-through hash, last-sequence hash.
/// ARGV: a candidate epoch (the start of a new one's name, if Redis has none), the envelope, count, ttl in ms, the
/// sends channel, the topic. Published as `P <epoch> <sequence> <envelope>`.
pub(super) const SEND: &str = r"
local seq = redis.call('INCR', KEYS[1])
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  -- A new order (a fresh Redis, or one that lost its data): its name must differ from every
  -- earlier one, also one this node named, so the time it starts joins the candidate.
  local t = redis.call('TIME')
  epoch = string.sub(ARGV[1], 1, 4) .. string.format('%x%x', t[1], t[2])
  redis.call('SET', KEYS[2], epoch)
end
local count = tonumber(ARGV[3])
if count > 0 then
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  local len = redis.call('XLEN', KEYS[3])
  if len >= count then
    local gone = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', len - count + 1)
    local last_gone = gone[#gone][1]
    redis.call('HSET', KEYS[4], ARGV[6], string.match(last_gone, '^(%d+)'))
  end
  redis.call('XADD', KEYS[3], 'MAXLEN', count, seq .. '-0', 't', now, 'm', ARGV[2])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
  redis.call('HSET', KEYS[5], ARGV[6], seq)
end
redis.call('PUBLISH', ARGV[5], 'P ' .. epoch .. ' ' .. seq .. ' ' .. ARGV[2])
return seq
";

/// What a reconnecting client missed: for each topic, `ok` and the envelopes after its
/// position (with their sequences), or `lost`.
///
/// KEYS: epoch, trimmed-through hash, last-sequence hash, the connect key of the client's
/// old id (or any key), then each topic's stream. ARGV: the position (`-1` to read it from
/// the connect key), the topic count, then each topic and its ttl in ms. Returns
/// `[epoch, position, topic, status, [seq, envelope, ...], ...]`.
pub(super) const FETCH: &str = r"
local p = tonumber(ARGV[1])
if p < 0 then
  p = tonumber(redis.call('GET', KEYS[4]) or '-1')
end
local out = { redis.call('GET', KEYS[1]) or '', tostring(p) }
if p < 0 then
  return out
end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
for i = 1, tonumber(ARGV[2]) do
  local topic = ARGV[1 + 2 * i]
  local ttl = tonumber(ARGV[2 + 2 * i])
  local trimmed = tonumber(redis.call('HGET', KEYS[2], topic) or '0')
  local last = tonumber(redis.call('HGET', KEYS[3], topic) or '0')
  local entries = redis.call('XRANGE', KEYS[4 + i], '(' .. p .. '-0', '+')
  local lost = p < trimmed or (#entries == 0 and last > p)
  local found = {}
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    if now - tonumber(fields[2]) > ttl then
      lost = true
    end
    table.insert(found, string.match(entry[1], '^(%d+)'))
    table.insert(found, fields[4])
  end
  table.insert(out, topic)
  if lost then
    table.insert(out, 'lost')
    table.insert(out, {})
  else
    table.insert(out, 'ok')
    table.insert(out, found)
  end
end
return out
";
