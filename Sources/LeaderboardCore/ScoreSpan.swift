/// Two scores of a board, `from` no worse than `to` in the board's order, that an earlier read
/// found at about global positions `first` and `last` (0-based): a guess of which scores a later
/// window near those positions holds. ``WindowLocator`` reads every shard's members scored from
/// `from` to `to` in one round, and uses them when they turn out to cover the window exactly
/// (counted in that round); a stale guess only costs that round.
public struct ScoreSpan: Sendable, Equatable {
    public var from: Int64
    public var to: Int64
    public var first: Int
    public var last: Int

    public init(from: Int64, to: Int64, first: Int, last: Int) {
        self.from = from
        self.to = to
        self.first = first
        self.last = last
    }

    /// Whether the window start ..< start + count lay inside the span when it was found.
    public func covers(start: Int, count: Int) -> Bool { first <= start && last >= start + count - 1 }
}

/// A shard's part of a score span: its size, how many of its members have a better score than the
/// span's `from`, and its members scored from `from` to `to` in the board's order (at most the
/// limit asked for).
public struct ShardSpan: Sendable, Equatable {
    public var size: Int
    public var before: Int
    public var members: [RankedMember]

    public init(size: Int, before: Int, members: [RankedMember]) {
        self.size = size
        self.before = before
        self.members = members
    }
}
