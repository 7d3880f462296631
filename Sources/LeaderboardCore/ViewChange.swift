/// One player's change in the real-time view of a board: its score there before (nil: absent)
/// and after (nil: absent). The view is the board's best `max_entries` players (every player
/// when unlimited), so a player can enter or leave it without its own score changing.
public struct ViewChange: Sendable, Equatable, Hashable {
    public var playerID: String
    public var before: Int64?
    public var after: Int64?

    public init(playerID: String, before: Int64?, after: Int64?) {
        self.playerID = playerID
        self.before = before
        self.after = after
    }
}

/// One committed change of a board's real-time view, numbered by the board's change sequence
/// (gapless, assigned in the commit under the board's row lock, so every process and every shard
/// agrees on the order). Applying a board's steps in sequence order gives its view after the last.
public struct ViewStep: Sendable, Equatable {
    public var seq: Int64
    /// The view is emptied first (a period reset).
    public var reset: Bool
    /// The board's period after this step.
    public var period: Int
    public var changes: [ViewChange]
    /// The newest event id of the board at this step.
    public var lastEventID: Int64

    public init(seq: Int64, reset: Bool = false, period: Int, changes: [ViewChange], lastEventID: Int64) {
        self.seq = seq
        self.reset = reset
        self.period = period
        self.changes = changes
        self.lastEventID = lastEventID
    }
}
