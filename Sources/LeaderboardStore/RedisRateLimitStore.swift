import RedisClient

/// Token buckets in Redis, so every server process draws from the same buckets.
public final class RedisRateLimitStore: Sendable {
    /// Sends one command whose key is the given one.
    private let send: @Sendable (_ command: [String], _ key: String) async throws -> RedisReply

    public init(pool: RedisConnectionPool) {
        send = { command, _ in try await pool.pipeline([command])[0] }
    }

    /// Buckets on a Redis Cluster: each on the master of its key's slot.
    public init(cluster: RedisClusterClient) {
        send = { command, key in try await cluster.pipeline([command], keys: [key])[0] }
    }

    /// Takes one token from `bucket` (refilled at `rate` per second up to `burst`, by Redis's
    /// clock). Returns whether it was granted, and if not, in how many milliseconds it will be.
    public func take(bucket: String, rate: Double, burst: Int) async throws -> (granted: Bool, retryAfterMilliseconds: Int) {
        let key = "ratelimit:" + bucket
        let reply = try await send(["EVAL", Self.script, "1", key, String(rate), String(burst)], key)
        if case .error(let message) = reply { throw RedisError(.protocolViolation, message) }
        guard let items = reply.array, items.count == 2, let granted = items[0].integer, let wait = items[1].integer else {
            throw RedisError(.protocolViolation, "unexpected rate limit reply")
        }
        return (granted == 1, Int(wait))
    }

    /// KEYS[1] = bucket; ARGV = rate per second, burst. Returns {1, 0} or {0, milliseconds to wait}.
    static let script = """
        local now = redis.call('TIME')
        local nowms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(state[1]) or burst
        local at = tonumber(state[2]) or nowms
        if nowms > at then tokens = math.min(burst, tokens + (nowms - at) / 1000 * rate) end
        local granted, wait = 0, 0
        if tokens >= 1 then
          tokens = tokens - 1
          granted = 1
        else
          wait = math.ceil((1 - tokens) / rate * 1000)
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(nowms, at)))
        redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
        return {granted, wait}
        """
}
