import Hummingbird
import LeaderboardCore

/// Checks the API key of every request against the route's access (see ``AccessPolicy``) before
/// any handler runs, so a rejected request changes nothing. Keys are never logged.
public struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: AccessPolicy

    public init(policy: AccessPolicy) {
        self.policy = policy
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if policy.enabled {
            let access = AccessPolicy.access(method: request.method.rawValue, path: request.uri.path)
            try policy.authorize(access, authorization: request.headers[.authorization])
        }
        return try await next(request, context)
    }
}
