/// Who may call what: API keys with roles, checked against the route a request names.
///
/// Roles: `admin` (every route), `writer` (score submissions, and reads), `reader` (reads, where
/// reads are protected). Reads are open unless `protectReads`; `/healthz`, `/readyz` and
/// `/metrics` are always open. With no key configured at all, access control is off.
/// Keys are kept only as SHA-256 digests and compared in constant time, against every key.
public struct AccessPolicy: Sendable {
    public enum Role: String, Sendable, Comparable {
        case reader, writer, admin

        private var level: Int {
            switch self {
            case .reader: 0
            case .writer: 1
            case .admin: 2
            }
        }

        public static func < (a: Role, b: Role) -> Bool { a.level < b.level }
    }

    /// What a route needs.
    public enum Access: Sendable, Equatable {
        case open
        case read
        case write
        case admin
    }

    private let keys: [(digest: [UInt8], role: Role)]
    public let protectReads: Bool

    public init(adminKeys: [String] = [], writerKeys: [String] = [], readerKeys: [String] = [], protectReads: Bool = false) {
        keys = adminKeys.map { (Self.digest($0), .admin) } + writerKeys.map { (Self.digest($0), .writer) }
            + readerKeys.map { (Self.digest($0), .reader) }
        self.protectReads = protectReads
    }

    public var enabled: Bool { !keys.isEmpty }

    /// The access a route needs, from its method and path.
    public static func access(method: String, path: String) -> Access {
        var parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0] == "api", parts[1] == "v1" else { return .open }
        parts.removeFirst(2)
        switch (method, parts.first, parts.count) {
        case ("POST", "scores", 1), ("POST", "scores", 2):
            return .write
        case (_, "leaderboards", 1):
            return .admin  // list and create
        case ("DELETE", "leaderboards", 2):
            return .admin
        case (_, "leaderboards", 3) where parts[2] == "reset" || parts[2] == "sync" || parts[2] == "layout":
            return .admin
        case (_, "leaderboards", 4) where parts[2] == "layout":
            return .admin  // the planner
        case ("DELETE", "leaderboards", 4) where parts[2] == "player":
            return .admin
        default:
            return .read
        }
    }

    /// Checks the `Authorization` header for `access`; throws `unauthorized` (no key, or one that
    /// is not configured) or `forbidden` (a key whose role is too low).
    public func authorize(_ access: Access, authorization: String?) throws(LeaderboardError) {
        guard enabled, access != .open, access != .read || protectReads else { return }
        guard let authorization, authorization.hasPrefix("Bearer ") else {
            throw LeaderboardError(.unauthorized, "this route needs an API key: Authorization: Bearer <key>")
        }
        guard let role = role(of: String(authorization.dropFirst("Bearer ".count))) else {
            throw LeaderboardError(.unauthorized, "the API key is not valid")
        }
        let needed: Role =
            switch access {
            case .open, .read: .reader
            case .write: .writer
            case .admin: .admin
            }
        guard role >= needed else { throw LeaderboardError(.forbidden, "this route needs the \(needed.rawValue) role") }
    }

    /// Whether the `Authorization` header carries a configured key (what rate limits may count by).
    public func authenticates(_ authorization: String?) -> Bool {
        guard enabled, let authorization, authorization.hasPrefix("Bearer ") else { return false }
        return role(of: String(authorization.dropFirst("Bearer ".count))) != nil
    }

    /// The role of a key: every configured key is compared, byte by byte, whatever matches.
    func role(of key: String) -> Role? {
        let presented = Self.digest(key)
        var found: Role?
        for (digest, role) in keys {
            var difference: UInt8 = 0
            for index in 0..<digest.count { difference |= digest[index] ^ presented[index] }
            if difference == 0 { found = max(found ?? role, role) }
        }
        return found
    }

    static func digest(_ key: String) -> [UInt8] {
        Digests.sha256(key)
    }
}
