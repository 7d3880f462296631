/// The scores a process last saw players have, per board: a guess that lets a sharded rank read
/// count every shard in the same round as it reads the player's score (one round instead of
/// two). Only a guess: the read checks it against the score it reads in that round and falls
/// back to counting again when they differ, so a stale or missing hint costs a round, never
/// correctness.
///
/// Bounded: two generations of at most `capacity / 2` players each. When the newer one fills,
/// it becomes the older one and the oldest generation is dropped, so players read or written
/// recently stay, and memory never exceeds `capacity` entries.
public struct ScoreHints: Sendable {
    struct Key: Hashable, Sendable {
        var board: String
        var player: String
    }

    /// A player's score and, on boards ordered by commit time, its tie key (so the guess names
    /// the player's sorted-set member; 0 elsewhere).
    public struct Hint: Sendable, Equatable {
        public var score: Int64
        public var tie: Int64
    }

    public let capacity: Int
    private var newer: [Key: Hint] = [:]
    private var older: [Key: Hint] = [:]

    public init(capacity: Int) {
        self.capacity = max(capacity, 2)
    }

    /// Hints held (at most `capacity`).
    public var count: Int { newer.count + older.count }

    public func score(board: String, player: String) -> Int64? {
        hint(board: board, player: player)?.score
    }

    public func hint(board: String, player: String) -> Hint? {
        let key = Key(board: board, player: player)
        return newer[key] ?? older[key]
    }

    /// A generation of hints, as ``note(board:player:score:tie:)`` gives back the one it dropped (so
    /// the caller can free it outside a lock).
    public struct Generation: Sendable {
        let hints: [Key: Hint]
    }

    /// Notes a player's score; returns the oldest generation when this note dropped it.
    @discardableResult
    public mutating func note(board: String, player: String, score: Int64, tie: Int64 = 0) -> Generation? {
        let key = Key(board: board, player: player)
        var dropped: Generation?
        if newer.count >= capacity / 2, newer[key] == nil {
            dropped = Generation(hints: older)
            older = newer
            newer = [:]
        }
        newer[key] = Hint(score: score, tie: tie)
        // A hint kept in both generations would count twice; the newer one is the one to read.
        if !older.isEmpty { older[key] = nil }
        return dropped
    }

    /// Drops a player's hint (it left the board).
    public mutating func forget(board: String, player: String) {
        let key = Key(board: board, player: player)
        newer[key] = nil
        older[key] = nil
    }
}
