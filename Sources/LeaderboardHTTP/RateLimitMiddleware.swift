import Hummingbird
import LeaderboardCore
import LeaderboardService
import NIOCore

/// Applies the rate limits before any handler runs. A request is counted against its API key
/// only when the key authenticates (a configured key); anything else — no key, or a made-up one
/// on an open route, which would otherwise get a fresh bucket per request — counts against the
/// client address. Buckets expire in Redis once full again.
public struct RateLimitMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let limiter: RateLimiter
    let policy: AccessPolicy

    public init(limiter: RateLimiter, policy: AccessPolicy) {
        self.limiter = limiter
        self.policy = policy
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if limiter.enabled {
            let access = AccessPolicy.access(method: request.method.rawValue, path: request.uri.path)
            try await limiter.admit(access, client: client(request, context))
        }
        return try await next(request, context)
    }

    private func client(_ request: Request, _ context: Context) -> String {
        if let header = request.headers[.authorization], policy.authenticates(header) {
            // The key's digest, never the key.
            return "key:" + Digests.sha256Hex(String(header.dropFirst("Bearer ".count))).prefix(32)
        }
        return "address:" + (context.remoteAddress?.ipAddress ?? "unknown")
    }
}

/// The request context of the server: Hummingbird's basics plus the client's address.
public struct LeaderboardRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
