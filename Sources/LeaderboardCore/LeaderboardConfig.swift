/// A board's configuration, as created through the API and stored in PostgreSQL.
public struct LeaderboardConfig: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var sortOrder: SortOrder
    public var resetPeriod: ResetPeriod
    /// Players beyond this rank are trimmed from the real-time board; 0 = unlimited.
    public var maxEntries: Int
    public var updateMode: UpdateMode
    /// How equal scores are ordered.
    public var tieBreak: TieBreak
    public var layout: Layout

    public static let defaultMaxEntries = 10_000
    public static let maxNameLength = 255

    public init(
        id: String, name: String? = nil, sortOrder: SortOrder = .desc, resetPeriod: ResetPeriod = .never,
        maxEntries: Int = LeaderboardConfig.defaultMaxEntries, updateMode: UpdateMode = .replace, tieBreak: TieBreak = .playerID,
        layout: Layout = .single
    ) {
        self.id = id
        self.name = name ?? id
        self.sortOrder = sortOrder
        self.resetPeriod = resetPeriod
        self.maxEntries = maxEntries
        self.updateMode = updateMode
        self.tieBreak = tieBreak
        self.layout = layout
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case sortOrder = "sort_order"
        case resetPeriod = "reset_period"
        case maxEntries = "max_entries"
        case updateMode = "update_mode"
        case tieBreak = "tie_break"
        case layout
    }

    /// Builds a config from a creation request, with the seed's defaults for what is missing and
    /// `defaultLayout(id)` when it names no layout. Every problem is an `invalid_request` naming the field.
    public static func parse(_ json: JSONValue, defaultLayout: (String) -> Layout = { _ in .single }) throws(LeaderboardError) -> LeaderboardConfig {
        guard let object = json.object else { throw .invalidRequest("body must be a JSON object") }
        let known: Set<String> = ["id", "name", "sort_order", "reset_period", "max_entries", "update_mode", "tie_break", "layout"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalidRequest("unknown field '\(unknown)'")
        }
        guard case .string(let id)? = object["id"] else { throw .invalidRequest("id is required and must be a string") }
        try Identifier.check(id, field: "id")
        var config = LeaderboardConfig(id: id, layout: defaultLayout(id))
        if let value = object["name"] {
            guard case .string(let name) = value, !name.isEmpty, name.count <= maxNameLength, !name.utf8.contains(0) else {
                throw .invalidRequest("name must be a string of 1-\(maxNameLength) characters")
            }
            config.name = name
        }
        if let value = object["sort_order"] {
            guard case .string(let text) = value, let order = SortOrder(rawValue: text) else {
                throw .invalidRequest("sort_order must be one of desc, asc")
            }
            config.sortOrder = order
        }
        if let value = object["reset_period"] {
            guard case .string(let text) = value, let period = ResetPeriod(rawValue: text) else {
                throw .invalidRequest("reset_period must be one of never, daily, weekly, monthly")
            }
            config.resetPeriod = period
        }
        if let value = object["update_mode"] {
            guard case .string(let text) = value, let mode = UpdateMode(rawValue: text) else {
                throw .invalidRequest("update_mode must be one of replace, increment, best")
            }
            config.updateMode = mode
        }
        if let value = object["tie_break"] {
            guard case .string(let text) = value, let tieBreak = TieBreak(rawValue: text) else {
                throw .invalidRequest("tie_break must be one of player_id, earliest, latest")
            }
            config.tieBreak = tieBreak
        }
        if let value = object["max_entries"] {
            guard case .integer(let count) = value, count >= 0, count <= 100_000_000 else {
                throw .invalidRequest("max_entries must be an integer from 0 (unlimited) to 100000000")
            }
            config.maxEntries = Int(count)
        }
        if let value = object["layout"] {
            config.layout = try parseLayout(value)
        }
        return config
    }

    /// A layout object of the creation shape (`{"strategy": "hash", "shards": 8}`), checked.
    public static func parseLayout(_ value: JSONValue) throws(LeaderboardError) -> Layout {
        guard let object = value.object, case .string(let strategy)? = object["strategy"] else {
            throw .invalidRequest("layout must be an object with a strategy: single, hash or band")
        }
        let allowed: Set<String> = switch strategy {
            case "hash": ["strategy", "shards"]
            case "band": ["strategy", "bounds"]
            default: ["strategy"]
            }
        if let extra = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .invalidRequest("layout.\(extra) does not belong to the \(strategy) strategy")
        }
        let layout: Layout
        switch strategy {
        case "single":
            layout = .single
        case "hash":
            guard case .integer(let shards)? = object["shards"], shards > 0, shards <= Int64(Layout.maxShards) else {
                throw .invalidRequest("layout.shards must be an integer between 1 and \(Layout.maxShards)")
            }
            layout = .hash(shards: Int(shards))
        case "band":
            guard case .array(let items)? = object["bounds"] else {
                throw .invalidRequest("layout.bounds must be an array of integer scores")
            }
            var bounds: [Int64] = []
            for item in items {
                guard case .integer(let bound) = item else { throw .invalidRequest("layout.bounds must be an array of integer scores") }
                bounds.append(bound)
            }
            layout = .band(bounds: bounds)
        default:
            throw .invalidRequest("layout.strategy must be one of single, hash, band")
        }
        try layout.validate()
        return layout
    }
}
