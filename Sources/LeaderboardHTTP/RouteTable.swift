/// Every route the server answers, as method and path template: for telling an unknown path
/// (404) from a known path called with a method it does not take (405, with `Allow`).
/// OpenAPITests checks it against the OpenAPI document.
public enum RouteTable {
    public static let routes: [(method: String, template: String)] = [
        ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/openapi.yaml"), ("GET", "/docs"),
        ("GET", "/api/v1/leaderboards"), ("POST", "/api/v1/leaderboards"),
        ("DELETE", "/api/v1/leaderboards/{id}"),
        ("POST", "/api/v1/leaderboards/{id}/reset"),
        ("GET", "/api/v1/leaderboards/{id}/periods"),
        ("POST", "/api/v1/leaderboards/{id}/sync"), ("GET", "/api/v1/leaderboards/{id}/sync"),
        ("GET", "/api/v1/leaderboards/{id}/layout"), ("PUT", "/api/v1/leaderboards/{id}/layout"),
        ("GET", "/api/v1/leaderboards/{id}/layout/plan"),
        ("POST", "/api/v1/scores"), ("POST", "/api/v1/scores/batch"),
        ("GET", "/api/v1/leaderboards/{id}/player/{player_id}"), ("DELETE", "/api/v1/leaderboards/{id}/player/{player_id}"),
        ("GET", "/api/v1/leaderboards/{id}/top"),
        ("GET", "/api/v1/leaderboards/{id}/around/{player_id}"),
        ("GET", "/api/v1/leaderboards/{id}/range"),
        ("GET", "/api/v1/leaderboards/{id}/players"), ("GET", "/api/v1/leaderboards/{id}/cutoff"),
    ]

    /// The methods the path takes (empty when no route has this path).
    public static func methods(for path: String) -> [String] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var methods: [String] = []
        for route in routes {
            let pattern = route.template.split(separator: "/", omittingEmptySubsequences: true)
            guard pattern.count == parts.count else { continue }
            if zip(pattern, parts).allSatisfy({ $0.hasPrefix("{") || $0 == $1 }), !methods.contains(route.method) { methods.append(route.method) }
        }
        return methods
    }
}
