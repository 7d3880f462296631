/// How a board's players are spread over Redis shards.
public enum Layout: Sendable, Equatable {
    /// One sorted set.
    case single
    /// `shards` sorted sets; a player's shard is XXH3-64(player_id) mod `shards`.
    case hash(shards: Int)
    /// One shard per score band; `bounds` b1 < … < bk make k+1 bands.
    case band(bounds: [Int64])

    public static let maxShards = 256

    public var strategy: String {
        switch self {
        case .single: "single"
        case .hash: "hash"
        case .band: "band"
        }
    }

    /// Number of shards the layout uses.
    public var shardCount: Int {
        switch self {
        case .single: 1
        case .hash(let shards): shards
        case .band(let bounds): bounds.count + 1
        }
    }

    /// Throws `invalid_request` when the layout is not well formed.
    public func validate() throws(LeaderboardError) {
        switch self {
        case .single:
            return
        case .hash(let shards):
            guard (1...Self.maxShards).contains(shards) else {
                throw .invalidRequest("layout.shards must be between 1 and \(Self.maxShards)")
            }
        case .band(let bounds):
            guard !bounds.isEmpty, bounds.count < Self.maxShards else {
                throw .invalidRequest("layout.bounds must hold 1 to \(Self.maxShards - 1) scores")
            }
            for bound in bounds where !ScoreRange.contains(bound) {
                throw .invalidScore("layout.bounds: \(bound) is outside ±\(ScoreRange.maximum)")
            }
            for index in bounds.indices.dropFirst() where bounds[index - 1] >= bounds[index] {
                throw .invalidRequest("layout.bounds must be strictly ascending")
            }
        }
    }
}

extension Layout: Codable {
    private enum CodingKeys: String, CodingKey {
        case strategy, shards, bounds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .strategy) {
        case "single": self = .single
        case "hash": self = .hash(shards: try container.decode(Int.self, forKey: .shards))
        case "band": self = .band(bounds: try container.decode([Int64].self, forKey: .bounds))
        default:
            throw DecodingError.dataCorruptedError(forKey: .strategy, in: container, debugDescription: "unknown strategy")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(strategy, forKey: .strategy)
        switch self {
        case .single: break
        case .hash(let shards): try container.encode(shards, forKey: .shards)
        case .band(let bounds): try container.encode(bounds, forKey: .bounds)
        }
    }
}
