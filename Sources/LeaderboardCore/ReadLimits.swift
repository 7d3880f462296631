/// Bounds of the read endpoints' parameters, and their parsing from query strings.
public struct ReadLimits: Sendable, Equatable {
    /// `limit` of GET /top when none is given.
    public var defaultLimit: Int
    /// The largest `limit`, and the largest number of entries any read returns.
    public var maxLimit: Int
    /// `range` of GET /around when none is given.
    public var defaultRadius: Int

    public init(defaultLimit: Int = 10, maxLimit: Int = 1000, defaultRadius: Int = 5) {
        self.defaultLimit = defaultLimit
        self.maxLimit = maxLimit
        self.defaultRadius = defaultRadius
    }

    /// The largest `range` of GET /around: its window never exceeds `maxLimit` entries.
    public var maxRadius: Int { max(0, (maxLimit - 1) / 2) }

    /// `limit` for GET /top: 1…maxLimit, default `defaultLimit`.
    public func limit(_ raw: String?) throws(LeaderboardError) -> Int {
        guard let raw else { return defaultLimit }
        return try Self.integer(raw, name: "limit", in: 1...maxLimit)
    }

    /// `range` for GET /around: 0…maxRadius, default `defaultRadius`.
    public func radius(_ raw: String?) throws(LeaderboardError) -> Int {
        guard let raw else { return defaultRadius }
        return try Self.integer(raw, name: "range", in: 0...maxRadius)
    }

    /// `start` and `end` for GET /range: 1-based, inclusive, start ≤ end, at most `maxLimit` ranks.
    public func window(start rawStart: String?, end rawEnd: String?) throws(LeaderboardError) -> (start: Int, end: Int) {
        guard let rawStart, let rawEnd else { throw .invalidRequest("start and end are required") }
        let start = try Self.integer(rawStart, name: "start", in: 1...Int(Int32.max))
        let end = try Self.integer(rawEnd, name: "end", in: 1...Int(Int32.max))
        guard start <= end else { throw .invalidRequest("start must not be greater than end") }
        guard end - start < maxLimit else { throw .invalidRequest("a range holds at most \(maxLimit) ranks") }
        return (start, end)
    }

    private static func integer(_ raw: String, name: String, in bounds: ClosedRange<Int>) throws(LeaderboardError) -> Int {
        guard raw.utf8.count <= 12, let value = Int(raw), bounds.contains(value) else {
            throw .invalidRequest("\(name) must be an integer from \(bounds.lowerBound) to \(bounds.upperBound)")
        }
        return value
    }
}
