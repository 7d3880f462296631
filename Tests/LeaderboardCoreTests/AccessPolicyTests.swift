import LeaderboardCore
import Testing

@Suite struct AccessPolicyTests {
    @Test(arguments: [
        ("POST", "/api/v1/scores", AccessPolicy.Access.write),
        ("POST", "/api/v1/scores/batch", .write),
        ("GET", "/api/v1/leaderboards", .admin),
        ("POST", "/api/v1/leaderboards", .admin),
        ("DELETE", "/api/v1/leaderboards/cup", .admin),
        ("POST", "/api/v1/leaderboards/cup/reset", .admin),
        ("POST", "/api/v1/leaderboards/cup/sync", .admin),
        ("GET", "/api/v1/leaderboards/cup/sync", .admin),
        ("DELETE", "/api/v1/leaderboards/cup/player/ann", .admin),
        ("GET", "/api/v1/leaderboards/cup/top", .read),
        ("GET", "/api/v1/leaderboards/cup/player/ann", .read),
        ("GET", "/api/v1/leaderboards/cup/around/ann", .read),
        ("GET", "/api/v1/leaderboards/cup/range", .read),
        ("GET", "/api/v1/leaderboards/cup/periods", .read),
        ("GET", "/healthz", .open),
        ("GET", "/readyz", .open),
        ("GET", "/metrics", .open),
    ])
    func routesAreClassified(method: String, path: String, access: AccessPolicy.Access) {
        #expect(AccessPolicy.access(method: method, path: path) == access)
    }

    let policy = AccessPolicy(adminKeys: ["admin-key-0123456789"], writerKeys: ["writer-key-0123456789"], readerKeys: ["reader-key-0123456789"])

    func code(_ policy: AccessPolicy, _ access: AccessPolicy.Access, _ header: String?) -> String? {
        do {
            try policy.authorize(access, authorization: header)
            return nil
        } catch {
            return error.code.rawValue
        }
    }

    @Test func rolesAndKeys() {
        #expect(code(policy, .admin, nil) == "unauthorized")
        #expect(code(policy, .admin, "Bearer nope-nope-nope-nope") == "unauthorized")
        #expect(code(policy, .admin, "admin-key-0123456789") == "unauthorized", "the Bearer scheme is required")
        #expect(code(policy, .admin, "Bearer writer-key-0123456789") == "forbidden")
        #expect(code(policy, .admin, "Bearer admin-key-0123456789") == nil)
        #expect(code(policy, .write, "Bearer writer-key-0123456789") == nil)
        #expect(code(policy, .write, "Bearer admin-key-0123456789") == nil)
        #expect(code(policy, .write, "Bearer reader-key-0123456789") == "forbidden")
        #expect(code(policy, .read, nil) == nil, "reads are open unless protected")
        #expect(code(policy, .open, nil) == nil)
        let protected = AccessPolicy(adminKeys: ["admin-key-0123456789"], readerKeys: ["reader-key-0123456789"], protectReads: true)
        #expect(code(protected, .read, nil) == "unauthorized")
        #expect(code(protected, .read, "Bearer reader-key-0123456789") == nil)
        #expect(code(protected, .open, nil) == nil)
        // No key configured: access control is off.
        #expect(code(AccessPolicy(), .admin, nil) == nil)
    }
}
