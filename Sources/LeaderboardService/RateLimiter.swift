import LeaderboardCore
import LeaderboardStore
import Logging
import Metrics

/// Per-client token buckets by route class (reads, writes, admin calls), shared by every server
/// process through Redis. A request over its class's limit is refused with 429 `rate_limited`
/// and `Retry-After` before anything runs. If Redis cannot be asked, requests are let through
/// (the limiter must not take the service down with it) and counted.
public final class RateLimiter: Sendable {
    public struct Limit: Sendable, Equatable {
        /// Tokens added per second.
        public var rate: Double
        /// Most tokens a bucket holds: the largest burst.
        public var burst: Int

        public init(rate: Double, burst: Int) {
            self.rate = rate
            self.burst = burst
        }
    }

    public struct Configuration: Sendable, Equatable {
        public var read: Limit?
        public var write: Limit?
        public var admin: Limit?

        public init(read: Limit? = nil, write: Limit? = nil, admin: Limit? = nil) {
            self.read = read
            self.write = write
            self.admin = admin
        }

        public var enabled: Bool { read != nil || write != nil || admin != nil }
    }

    private let configuration: Configuration
    private let store: RedisRateLimitStore
    private let logger: Logger
    private let unavailable = Counter(label: "leaderboard_rate_limit_unavailable")

    public init(configuration: Configuration, store: RedisRateLimitStore, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
    }

    public var enabled: Bool { configuration.enabled }

    /// Takes a token for `client` (an API key's digest or a client address) in `access`'s class;
    /// throws `rate_limited` with the seconds to wait when there is none.
    public func admit(_ access: AccessPolicy.Access, client: String) async throws(LeaderboardError) {
        let limit: Limit?
        let name: String
        switch access {
        case .open: return
        case .read: (limit, name) = (configuration.read, "read")
        case .write: (limit, name) = (configuration.write, "write")
        case .admin: (limit, name) = (configuration.admin, "admin")
        }
        guard let limit else { return }
        let answer: (granted: Bool, retryAfterMilliseconds: Int)
        do {
            answer = try await store.take(bucket: "\(name):\(client)", rate: limit.rate, burst: limit.burst)
        } catch {
            unavailable.increment()
            logger.warning("rate limit not checked: Redis did not answer", metadata: ["error": "\(error)"])
            return
        }
        guard answer.granted else {
            Counter(label: "leaderboard_rate_limited", dimensions: [("class", name)]).increment()
            let seconds = max(1, (answer.retryAfterMilliseconds + 999) / 1000)
            throw LeaderboardError(.rateLimited, "over the \(name) limit of \(limit.burst) requests, refilled at \(limit.rate)/s; retry in \(seconds) s", retryAfterSeconds: seconds)
        }
    }
}
